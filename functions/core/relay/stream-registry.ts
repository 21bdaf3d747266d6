import { StreamBatcher, type BatchLimits } from './batcher.ts';
import { streamId, type DataType, type StreamKey } from '../model/streams.ts';

export interface StreamStatus {
  readonly stream: string;
  readonly exchange: string;
  readonly covering: boolean;
  /** Start (ms) of the open coverage window, or null. */
  readonly coveringSince: number | null;
  /** Whether coverage has opened at least once since start, i.e. the subscription was proven. */
  readonly subscribed: boolean;
  readonly ticksIn: number;
  /** Receive time (ms) of the newest tick of this stream. */
  readonly lastTickAt: number | null;
  /** End (ms) of the newest window the broker acknowledged: the stream is recorded up to here. */
  readonly coveredTo: number | null;
  /** Wall-clock ms of the newest acknowledged publish. */
  readonly lastPublishAt: number | null;
  readonly bufferedTicks: number;
  /** A fleet replica that holds the stream for a take-over and does not publish it (fleet-shard.ts). */
  readonly standby?: boolean;
}

export interface StreamState {
  readonly key: StreamKey;
  readonly id: string;
  readonly batcher: StreamBatcher;
  subscribed: boolean;
  ticksIn: number;
  /**
   * Receive ms of the newest tick, NaN before the first: a number from the start, so the per-tick store
   * updates it in place (see docs/PERFORMANCE.md).
   */
  lastTickAt: number;
  coveredTo: number | null;
  lastPublishAt: number | null;
}

export interface ExchangeState {
  readonly name: string;
  /**
   * Receive ms of the newest message delivered for this exchange. Its one connection delivers in order,
   * so every message received before it has been delivered too, and the connection was alive then:
   * coverage may be claimed up to (and including) this millisecond, not beyond.
   */
  proofMs: number;
  readonly streams: StreamState[];
  /** symbol -> stream, one map per type (fields, not a map by type: one lookup per tick, see `ofType`). */
  readonly trade: Map<string, StreamState>;
  readonly book_ticker: Map<string, StreamState>;
  readonly book_change: Map<string, StreamState>;
  readonly derivative_ticker: Map<string, StreamState>;
  readonly liquidation: Map<string, StreamState>;
}

/** The configured streams, by exchange and by (type, symbol), each with its batcher. */
export class StreamRegistry {
  readonly exchanges = new Map<string, ExchangeState>();
  readonly streams: StreamState[] = [];
  private lastExchange: ExchangeState | undefined;

  constructor(keys: readonly StreamKey[], relayId: string, limits: BatchLimits) {
    for (const key of keys) {
      const exchange = this.exchanges.get(key.exchange) ?? this.addExchange(key.exchange);
      const state: StreamState = {
        key,
        id: streamId(key),
        batcher: new StreamBatcher(key, relayId, limits),
        subscribed: false,
        ticksIn: 0,
        lastTickAt: Number.NaN,
        coveredTo: null,
        lastPublishAt: null,
      };
      exchange.streams.push(state);
      ofType(exchange, key.type).set(key.symbol, state);
      this.streams.push(state);
    }
  }

  /** The exchange a tick came from. Ticks come in runs from one exchange: look it up only when it changes. */
  exchangeOfTick(name: string): ExchangeState | undefined {
    let exchange = this.lastExchange;
    if (exchange?.name !== name) {
      exchange = this.exchanges.get(name);
      this.lastExchange = exchange;
    }
    return exchange;
  }

  status(): StreamStatus[] {
    return this.streams.map((s) => ({
      stream: s.id,
      exchange: s.key.exchange,
      covering: s.batcher.isCovering,
      coveringSince: s.batcher.coveringSince,
      subscribed: s.subscribed,
      ticksIn: s.ticksIn,
      lastTickAt: Number.isNaN(s.lastTickAt) ? null : s.lastTickAt,
      coveredTo: s.coveredTo,
      lastPublishAt: s.lastPublishAt,
      bufferedTicks: s.batcher.bufferedTicks,
    }));
  }

  /** Bytes buffered in the batchers. */
  get bufferedBytes(): number {
    let bytes = 0;
    for (const s of this.streams) bytes += s.batcher.bufferedBytes;
    return bytes;
  }

  private addExchange(name: string): ExchangeState {
    const exchange: ExchangeState = {
      name,
      proofMs: Number.NEGATIVE_INFINITY,
      streams: [],
      trade: new Map(),
      book_ticker: new Map(),
      book_change: new Map(),
      derivative_ticker: new Map(),
      liquidation: new Map(),
    };
    this.exchanges.set(name, exchange);
    return exchange;
  }
}

/** The streams of one type on an exchange (a switch, not indexing by the type string: see docs/PERFORMANCE.md). */
export function ofType(exchange: ExchangeState, type: DataType): Map<string, StreamState> {
  switch (type) {
    case 'trade':
      return exchange.trade;
    case 'book_ticker':
      return exchange.book_ticker;
    case 'book_change':
      return exchange.book_change;
    case 'derivative_ticker':
      return exchange.derivative_ticker;
    case 'liquidation':
      return exchange.liquidation;
  }
}
