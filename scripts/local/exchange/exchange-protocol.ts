/**
 * The one interface between the exchange simulator's core (connections, pump, faults, stats, records) and
 * an exchange's websocket protocol (`<exchange>-protocol.ts`): its path, how it answers the client's
 * requests, how a ground-truth tick looks on its wire, any REST routes its feed calls, and how Tardis
 * stores the same ticks (the history server's wire). Register a protocol in `protocols.ts`.
 */
import type { DataType } from '../../../functions/core/model/streams.ts';
import type { TimeUnit } from './binance-wire.ts';
import type { BookSnapshot, Tick, TickKind, TickSource } from './ground-truth.ts';

/** Simulator options a protocol may read. */
export interface ProtocolOptions {
  /** See BinanceWireOptions.bookTickerEventTime. */
  readonly bookTickerEventTime: boolean;
}

/** The core's services to one exchange's protocol. */
export interface SimulatorContext {
  readonly options: ProtocolOptions;
  /** Lower-case symbols that carry data (SimulatorOptions.symbols); undefined: any symbol. */
  readonly symbols: readonly string[] | undefined;
  now(): number;
  /** The time up to which the exchange has data: now, or the start of a dropping stall (a frozen exchange). */
  dataNow(): number;
  /** Whether the exchange does not list this lower-case symbol (SimulatorOptions.unlisted). */
  isUnlisted(symbol: string): boolean;
  /** Ground-truth ticks of `kind` for a lower-case symbol on this exchange; undefined: silent (no data). */
  source(symbol: string, kind: TickKind | undefined): TickSource<TickKind> | undefined;
  /** Logs an order book snapshot handed out at `at`: on a websocket connection, or REST (connectionId null). */
  recordSnapshot(symbol: string, lastUpdateId: number, at: number, connectionId: number | null): void;
  /** The HTTP status new connections and REST calls are refused with now, if a refuse window is open. */
  refusingStatus(): number | undefined;
}

/** What `ConnectionLink.subscribe` did. */
export interface Subscribed {
  /** false: the connection already had this subscription (nothing changed). */
  readonly isNew: boolean;
  readonly source: TickSource<TickKind> | undefined;
  /** Index of the first tick the subscription will send: only ticks after it was made are sent. */
  readonly nextIndex: number;
}

/** One websocket connection as a protocol sees it. */
export interface ConnectionLink {
  readonly id: number;
  /** Sends one JSON message that is not a tick (acknowledgement, error, snapshot, pong). */
  reply(message: unknown): void;
  /** Sends one text frame as is (OKX answers a text `ping` with a text `pong`). */
  replyText(text: string): void;
  /**
   * Subscribes wire name `name` to the ground truth of `kind` (undefined: accepted, silent) for `symbol`;
   * `replay` ticks from before the subscription are sent first (OKX re-sends its latest liquidation).
   */
  subscribe(name: string, symbol: string, kind: TickKind | undefined, replay?: number): Subscribed;
  unsubscribe(name: string): void;
  subscriptionNames(): string[];
  /** Counts one subscribe request in the simulator's stats. */
  countSubscribeRequest(): void;
}

/** The protocol's state for one connection. */
export interface ProtocolSession {
  /** The time unit the connection asked for (Binance `timeUnit`), shown in its record. */
  readonly timeUnit: TimeUnit;
  /** Answers one text message from the client. */
  onMessage(text: string): void;
  /**
   * The wire message of a ground-truth tick on this connection, sent for the subscription `stream` (its
   * wire name as given to `link.subscribe`: one kind can feed several channels, e.g. Binance futures'
   * markPrice and ticker, OKX's five ticker channels).
   */
  frame(tick: Tick, stream: string): unknown;
}

export interface RestAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** REST routes an exchange's feed calls (order book snapshots, open interest...). */
export interface RestRoutes {
  /** Requests whose path starts with this are the exchange's, e.g. `/api/`. */
  readonly prefix: string;
  /** The REST base the relay is pointed at, e.g. `/api/v3` (`REST_URL_<EXCHANGE>`). */
  readonly base: string;
  answer(method: string, url: URL, ctx: SimulatorContext): RestAnswer;
}

/** How Tardis stores one exchange's data: the history server's half of the protocol. */
export interface HistoryWire {
  /** Tardis channel -> ground-truth kind (the descriptor's `channels`). */
  readonly channelKinds: Readonly<Record<string, TickKind>>;
  /** Whether a lower-case symbol has this exchange's shape (symbols of other exchanges are skipped). */
  readonly isSymbol: (symbol: string) => boolean;
  readonly fallbackSymbol: string;
  /** The ground-truth symbol of a filter's symbol on `channel`, when they differ (OKX index -> its swap). */
  readonly groundTruthSymbol?: (channel: string, symbol: string) => string;
  /** `channel`: the filter's, for an exchange whose history names one kind two ways (OKX `books`). */
  readonly message: (
    tick: Tick,
    wire: { timeUnit: TimeUnit; bookTickerEventTime?: boolean },
    channel: string,
  ) => unknown;
  /**
   * The channel(s) of the recorder's order book snapshots, and how one is stored (`at`: local ms). A
   * channel that also carries updates (in channelKinds: OKX's books open with a snapshot) serves both.
   */
  readonly snapshotChannel: string | readonly string[];
  readonly snapshotMessage: (book: BookSnapshot, at: number, channel: string) => unknown;
  /**
   * The message of a stream's first tick in a slice or after a recorder gap, when it differs from
   * `message` (Bybit: a level-1 book opens with a snapshot). Default: `message`.
   */
  readonly firstMessage?: (tick: Tick) => unknown;
  /**
   * Channels of channelKinds the live feed polls over REST instead of receiving on its websocket (Binance
   * futures' `openInterest`): history holds the recorder's polls, at other instants than a relay's.
   */
  readonly polledChannels?: readonly string[];
}

/** One exchange's websocket protocol, REST routes and Tardis wire. */
export interface ExchangeProtocol {
  /** tardis-dev's name of the exchange (ticks and ground truth are keyed by it). */
  readonly exchange: string;
  /** Websocket path, unique per exchange, e.g. `/stream`. */
  readonly wsPath: string;
  /** Query appended to the path in WSS_URL_<EXCHANGE>, e.g. `?timeUnit=microsecond`, or ''. */
  readonly wsQuery: string;
  /** Starts the protocol on a new connection (`url`: the upgrade request's URL). */
  open(link: ConnectionLink, url: URL, ctx: SimulatorContext): ProtocolSession;
  readonly rest?: RestRoutes;
  readonly history: HistoryWire;
  /** SQL of a stored trade's ground-truth id, from the `trade_id` column; default `CAST(trade_id AS INT64)`. */
  readonly tradeIdSql?: string;
  /** What the exchange adds to a ground-truth id in a keyed row id, by data type (Bybit quotes: `seq`). */
  readonly rowKeyOffsets?: Readonly<Partial<Record<DataType, number>>>;
}

/** Parses a client's JSON text; undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
