/**
 * A local stand-in for exchanges' websocket feeds, speaking each protocol as tardis-dev 13.35.3 uses it
 * (one `<exchange>-protocol.ts` each, registered in `protocols.ts`; set WSS_URL_<EXCHANGE> to
 * `wsUrls[exchange]`), with the REST routes their feeds call (Binance spot: `restUrl`, under /api/v3).
 * The core here is exchange-agnostic: it emits ground-truth ticks in real time, records exactly what it
 * wrote to each connection, and takes faults programmatically or over HTTP (same port, /control/*) so
 * another process can drive it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { TimeUnit } from './binance-wire.ts';
import type {
  ConnectionLink,
  ExchangeProtocol,
  ProtocolSession,
  SimulatorContext,
} from './exchange-protocol.ts';
import {
  mergeIdRanges,
  tickSource,
  type GroundTruthStream,
  type IdRange,
  type TickKind,
  type TickSource,
} from './ground-truth.ts';
import { BadRequestError, handleControl, numberField, readJsonObject } from './http-json.ts';
import { PROTOCOLS, SIMULATED_EXCHANGES, isSimulatedExchange, type SimulatedExchange } from './protocols.ts';

export type { SimulatedExchange } from './protocols.ts';

export interface SimulatorOptions {
  readonly seed: number;
  /** Ticks per second per symbol per stream kind (0 < rate <= 1000). */
  readonly ratePerSymbol: number;
  /** Symbols that carry data; others can be subscribed but stay silent. Default: any symbol. */
  readonly symbols?: readonly string[];
  /**
   * Symbols the exchanges do not list. Coinbase refuses a subscribe naming one (`{"type":"error",
   * "message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}`); Binance, like the real
   * one, accepts any well-formed stream name and sends nothing for it.
   */
  readonly unlisted?: readonly string[];
  /** Default 0 (an ephemeral port). */
  readonly port?: number;
  readonly host?: string;
  /** Emission loop period; every pass sends all ticks with timestamp <= now. Default 5 ms. */
  readonly tickIntervalMs?: number;
  /** See BinanceWireOptions.bookTickerEventTime. Default false, as on real Binance spot. */
  readonly bookTickerEventTime?: boolean;
  /** Close each connection (code 1001) after this long, as Binance does after 24 h. Default: never. */
  readonly maxConnectionAgeMs?: number;
  /** Clock for emission and fault windows. Default Date.now. */
  readonly now?: () => number;
}

/** 'drop': ticks during the stall are never sent; 'buffer': they are sent in a burst when it ends. */
export type StallMode = 'drop' | 'buffer';

export interface SimulatorStats {
  /** Websocket connections accepted. */
  readonly connections: number;
  readonly openConnections: number;
  /** Upgrade requests answered with an HTTP error while refusing. */
  readonly refused: number;
  /** SUBSCRIBE requests received. */
  readonly subscribes: number;
  /** Data frames written to sockets. */
  readonly framesSent: number;
  readonly framesByKind: Readonly<Record<TickKind, number>>;
  /** Order book snapshots handed out: REST depth answers and websocket snapshots (Coinbase level2). */
  readonly bookSnapshots: number;
  /** REST requests answered (Binance exchangeInfo, depth...), any status. */
  readonly restRequests: number;
  readonly stalledUntil: number | null;
  readonly refusingUntil: number | null;
}

export interface ConnectionRecord {
  readonly id: number;
  readonly exchange: SimulatedExchange;
  readonly openedAt: number;
  readonly closedAt: number | null;
  readonly timeUnit: TimeUnit;
  readonly subscriptions: readonly string[];
  readonly framesSent: number;
  readonly framesByStream: Readonly<Record<string, number>>;
  /** Per lower-case symbol: the contiguous runs of trade ids written to this connection. */
  readonly trades: Readonly<Record<string, readonly IdRange[]>>;
  /** Per lower-case symbol: the contiguous runs of order book update ids written to this connection. */
  readonly bookChanges: Readonly<Record<string, readonly IdRange[]>>;
}

/** An order book snapshot the simulator handed out (REST depth or a websocket snapshot). */
export interface BookSnapshotRecord {
  readonly exchange: SimulatedExchange;
  readonly symbol: string;
  /** The snapshot holds every update with id <= lastUpdateId. */
  readonly lastUpdateId: number;
  readonly at: number;
  /** The websocket connection it was sent on; null: a REST answer. */
  readonly connectionId: number | null;
}

export interface Simulator {
  /** Put this in WSS_URL_BINANCE; mirrors Binance's `/stream?timeUnit=microsecond`. */
  readonly wsUrl: string;
  /** Binance REST base (`http://127.0.0.1:PORT/api/v3`): the relay's REST_URL_BINANCE. */
  readonly restUrl: string;
  /** Per exchange with REST routes, its REST base: the relay's REST_URL_<EXCHANGE>. */
  readonly restUrls: Readonly<Partial<Record<SimulatedExchange, string>>>;
  /** Every WSS_URL_<EXCHANGE> and REST_URL_<EXCHANGE> a relay needs to use this simulator for all its exchanges. */
  readonly relayEnv: Readonly<Record<string, string>>;
  /** Per exchange, the value for WSS_URL_<EXCHANGE>. */
  readonly wsUrls: Readonly<Record<SimulatedExchange, string>>;
  readonly port: number;
  /** Base URL of the HTTP control endpoints. */
  readonly controlUrl: string;
  readonly exchange: string;
  readonly seed: number;
  readonly ratePerSymbol: number;
  /** The ground-truth stream of a symbol on this simulator (default exchange binance), for tradesBetween & co. */
  groundTruth(symbol: string, exchange?: SimulatedExchange): GroundTruthStream;
  /** Terminates every connection (no close frame); returns how many. 'close' sends 1001 first. */
  dropAll(mode?: 'terminate' | 'close'): number;
  /**
   * Writes `text` as one data frame on every open connection of `exchange` (default binance), as a faulty
   * exchange or proxy would; returns how many connections it went to. Not counted as a tick sent.
   */
  sendRaw(text: string, exchange?: SimulatedExchange): number;
  /** No data frames on any connection for `ms` (sockets stay open, subscriptions are answered). */
  stall(ms: number, mode?: StallMode): void;
  /** Answers new websocket upgrades with HTTP `status` (default 503) for `ms`. */
  refuse(ms: number, status?: number): void;
  /** Ends every fault window now. */
  clear(): void;
  stats(): SimulatorStats;
  /** Merged runs of trade ids written to any connection of `exchange` (default binance) for a symbol. */
  sentTrades(symbol: string, exchange?: SimulatedExchange): IdRange[];
  /** Merged runs of order book update ids written to any connection of `exchange` for a symbol. */
  sentBookChanges(symbol: string, exchange?: SimulatedExchange): IdRange[];
  /** Merged runs of ids (index + 1) of `kind` written to any connection of `exchange` for a symbol. */
  sentIds(symbol: string, kind: TickKind, exchange: SimulatedExchange): IdRange[];
  /** Every order book snapshot handed out, in order. */
  bookSnapshots(): BookSnapshotRecord[];
  connections(): ConnectionRecord[];
  /** Closes sockets, timers and the server; safe to call twice. */
  stop(): Promise<void>;
}

interface Subscription {
  /** Wire name: `btcusdt@trade` (Binance), `matches:BTC-USD` (Coinbase). */
  readonly stream: string;
  /** undefined: a channel or symbol without data (accepted, silent). */
  readonly source: TickSource<TickKind> | undefined;
  nextIndex: number;
}

interface MutableRecord {
  id: number;
  exchange: SimulatedExchange;
  openedAt: number;
  closedAt: number | null;
  timeUnit: TimeUnit;
  framesSent: number;
  framesByStream: Record<string, number>;
  trades: Record<string, { firstId: number; lastId: number }[]>;
  bookChanges: Record<string, { firstId: number; lastId: number }[]>;
  /** Per kind and lower-case symbol: the runs of ids (index + 1) written, every kind. */
  sent: Partial<Record<TickKind, Record<string, { firstId: number; lastId: number }[]>>>;
  /** Kept after close, so a record still tells what the connection had subscribed. */
  readonly subscriptions: Map<string, Subscription>;
}

interface Connection {
  readonly ws: WebSocket;
  readonly record: MutableRecord;
  readonly subscriptions: Map<string, Subscription>;
  readonly session: ProtocolSession;
  ageTimer: NodeJS.Timeout | undefined;
}

const WS_PATHS: ReadonlyMap<string, SimulatedExchange> = new Map(
  SIMULATED_EXCHANGES.map((on) => [PROTOCOLS[on].wsPath, on]),
);

/** Starts the simulator; resolves once it listens. */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const exchange = PROTOCOLS.binance.exchange;
  const now = options.now ?? Date.now;
  const symbols = options.symbols?.map((s) => s.toLowerCase());
  const unlisted = new Set(options.unlisted?.map((s) => s.toLowerCase()) ?? []);
  const streamOf = (symbol: string, on: SimulatedExchange = 'binance'): GroundTruthStream => ({
    seed: options.seed,
    exchange: PROTOCOLS[on].exchange,
    symbol: symbol.toLowerCase(),
    rate: options.ratePerSymbol,
  });
  // Validates seed and rate before anything listens.
  tickSource('trade', streamOf('btcusdt'));

  const open = new Set<Connection>();
  const records: MutableRecord[] = [];
  let nextConnectionId = 1;
  let connectionsAccepted = 0;
  let refused = 0;
  let subscribes = 0;
  let framesSent = 0;
  const framesByKind: Record<TickKind, number> = {
    trade: 0,
    bookTicker: 0,
    bookChange: 0,
    derivativeTicker: 0,
    liquidation: 0,
  };
  const snapshotLog: BookSnapshotRecord[] = [];
  let restRequests = 0;
  let stalledUntil = 0;
  let stalledFrom = 0;
  let stallMode: StallMode = 'drop';
  let refusingUntil = 0;
  let refuseStatus = 503;
  let stopping = false;

  const contextOf = (on: SimulatedExchange): SimulatorContext => ({
    options: { bookTickerEventTime: options.bookTickerEventTime ?? false },
    symbols,
    now,
    dataNow: () => (now() < stalledUntil && stallMode === 'drop' ? stalledFrom : now()),
    isUnlisted: (symbol) => unlisted.has(symbol),
    source: (symbol, kind) => {
      if (kind === undefined) return undefined;
      if (symbols !== undefined && !symbols.includes(symbol)) return undefined;
      if (unlisted.has(symbol)) return undefined;
      return tickSource(kind, streamOf(symbol, on));
    },
    recordSnapshot: (symbol, lastUpdateId, at, connectionId) =>
      snapshotLog.push({ exchange: on, symbol, lastUpdateId, at, connectionId }),
    refusingStatus: () => (now() < refusingUntil ? refuseStatus : undefined),
  });
  const contexts = new Map(SIMULATED_EXCHANGES.map((on) => [on, contextOf(on)]));

  const recordSent = (conn: Connection, stream: string, kind: TickKind, symbol: string, id: number): void => {
    framesSent++;
    framesByKind[kind]++;
    const record = conn.record;
    record.framesSent++;
    record.framesByStream[stream] = (record.framesByStream[stream] ?? 0) + 1;
    appendId(((record.sent[kind] ??= {})[symbol] ??= []), id);
    if (kind !== 'trade' && kind !== 'bookChange') return; // id runs: trades and book changes only
    const runs = ((kind === 'trade' ? record.trades : record.bookChanges)[symbol] ??= []);
    const last = runs.at(-1);
    if (last !== undefined && last.lastId + 1 === id) last.lastId = id;
    else runs.push({ firstId: id, lastId: id });
  };

  /** Sends a subscription's ticks stamped up to `t`; none while stalled. */
  const pumpSubscription = (conn: Connection, sub: Subscription, t: number): void => {
    const source = sub.source;
    if (source === undefined) return;
    const end = source.indexAtOrAfter(t + 1);
    if (t < stalledUntil) {
      if (stallMode === 'drop') sub.nextIndex = Math.max(sub.nextIndex, end);
      return;
    }
    // A dropped stall never sends a tick stamped inside it, even one the last stalled pass missed.
    if (stallMode === 'drop' && stalledUntil > 0) {
      sub.nextIndex = Math.max(sub.nextIndex, source.indexAtOrAfter(stalledUntil));
    }
    if (end <= sub.nextIndex) return;
    const ticks = source.ticks(sub.nextIndex, end);
    sub.nextIndex = end;
    for (const tick of ticks) {
      const frame = JSON.stringify(conn.session.frame(tick, sub.stream));
      const id = tick.kind === 'trade' || tick.kind === 'liquidation' ? tick.id : tick.updateId;
      // Counted once the frame reached the socket: "sent" means written, not merely queued.
      conn.ws.send(frame, (error) => {
        if (error === undefined || error === null) recordSent(conn, sub.stream, tick.kind, tick.symbol, id);
      });
    }
  };

  const pump = (): void => {
    const t = now();
    for (const conn of open) {
      if (conn.ws.readyState !== WebSocket.OPEN) continue;
      for (const sub of conn.subscriptions.values()) pumpSubscription(conn, sub, t);
    }
  };

  const linkOf = (ws: WebSocket, record: MutableRecord, ctx: SimulatorContext): ConnectionLink => ({
    id: record.id,
    reply: (message) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
    },
    replyText: (text) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
    },
    subscribe: (name, symbol, kind, replay = 0) => {
      const existing = record.subscriptions.get(name);
      if (existing !== undefined)
        return { isNew: false, source: existing.source, nextIndex: existing.nextIndex };
      const source = ctx.source(symbol, kind);
      // Only ticks that happen after the subscription are sent, as on a live exchange (a frozen one has none).
      const after = source === undefined ? 0 : source.indexAtOrAfter(ctx.dataNow() + 1);
      const nextIndex = Math.max(0, after - replay);
      record.subscriptions.set(name, { stream: name, source, nextIndex });
      return { isNew: true, source, nextIndex };
    },
    unsubscribe: (name) => record.subscriptions.delete(name),
    subscriptionNames: () => [...record.subscriptions.keys()],
    countSubscribeRequest: () => subscribes++,
  });

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  const onConnection = (ws: WebSocket, url: URL, on: SimulatedExchange): void => {
    connectionsAccepted++;
    const record: MutableRecord = {
      id: nextConnectionId++,
      exchange: on,
      openedAt: now(),
      closedAt: null,
      timeUnit: 'millisecond',
      framesSent: 0,
      framesByStream: {},
      trades: {},
      bookChanges: {},
      sent: {},
      subscriptions: new Map(),
    };
    records.push(record);
    const ctx = contexts.get(on)!;
    const session = PROTOCOLS[on].open(linkOf(ws, record, ctx), url, ctx);
    record.timeUnit = session.timeUnit;
    const conn: Connection = {
      ws,
      record,
      subscriptions: record.subscriptions,
      session,
      ageTimer: undefined,
    };
    open.add(conn);
    if (options.maxConnectionAgeMs !== undefined) {
      conn.ageTimer = setTimeout(() => ws.close(1001, 'connection age limit'), options.maxConnectionAgeMs);
    }
    ws.on('message', (raw) => session.onMessage(raw.toString()));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      clearTimeout(conn.ageTimer);
      record.closedAt = now();
      open.delete(conn);
    });
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const rejectWith = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (stopping) return rejectWith(503, 'Service Unavailable');
    const on = WS_PATHS.get(url.pathname);
    if (on === undefined) return rejectWith(404, 'Not Found');
    if (now() < refusingUntil) {
      refused++;
      return rejectWith(refuseStatus, 'Refused By Simulator');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, url, on));
  };

  const sendRaw = (text: string, target: SimulatedExchange = 'binance'): number => {
    let sent = 0;
    for (const conn of open) {
      if (conn.record.exchange !== target || conn.ws.readyState !== WebSocket.OPEN) continue;
      conn.ws.send(text);
      sent++;
    }
    return sent;
  };

  const dropAll = (mode: 'terminate' | 'close' = 'terminate'): number => {
    const conns = [...open];
    for (const conn of conns) {
      if (mode === 'close') conn.ws.close(1001, 'dropped by simulator');
      else conn.ws.terminate();
    }
    return conns.length;
  };

  const stats = (): SimulatorStats => {
    const t = now();
    return {
      connections: connectionsAccepted,
      openConnections: open.size,
      refused,
      subscribes,
      framesSent,
      framesByKind: { ...framesByKind },
      bookSnapshots: snapshotLog.length,
      restRequests,
      stalledUntil: t < stalledUntil ? stalledUntil : null,
      refusingUntil: t < refusingUntil ? refusingUntil : null,
    };
  };

  const sentRuns = (symbol: string, on: SimulatedExchange, key: 'trades' | 'bookChanges'): IdRange[] =>
    mergeIdRanges(
      records.filter((r) => r.exchange === on).flatMap((r) => r[key][symbol.toLowerCase()] ?? []),
    );
  const sentTrades = (symbol: string, on: SimulatedExchange = 'binance'): IdRange[] =>
    sentRuns(symbol, on, 'trades');
  const sentBookChanges = (symbol: string, on: SimulatedExchange = 'binance'): IdRange[] =>
    sentRuns(symbol, on, 'bookChanges');
  const sentIds = (symbol: string, kind: TickKind, on: SimulatedExchange): IdRange[] =>
    mergeIdRanges(
      records.filter((r) => r.exchange === on).flatMap((r) => r.sent[kind]?.[symbol.toLowerCase()] ?? []),
    );

  const copyRuns = (bySymbol: Record<string, IdRange[]>): Record<string, IdRange[]> =>
    Object.fromEntries(Object.entries(bySymbol).map(([s, runs]) => [s, runs.map((x) => ({ ...x }))]));
  const connections = (): ConnectionRecord[] =>
    records.map((r) => ({
      ...r,
      subscriptions: [...r.subscriptions.keys()],
      framesByStream: { ...r.framesByStream },
      trades: copyRuns(r.trades),
      bookChanges: copyRuns(r.bookChanges),
    }));

  const stall = (ms: number, mode: StallMode = 'drop'): void => {
    if (now() >= stalledUntil) stalledFrom = now();
    stalledUntil = now() + ms;
    stallMode = mode;
  };
  const refuse = (ms: number, status = 503): void => {
    refusingUntil = now() + ms;
    refuseStatus = status;
  };
  const clear = (): void => {
    stalledUntil = Math.min(stalledUntil, now());
    refusingUntil = 0;
  };

  const control = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    await handleControl(res, async () => {
      const route = `${req.method ?? 'GET'} ${url.pathname}`;
      switch (route) {
        case 'GET /control/stats':
          return stats();
        case 'GET /control/info':
          return {
            exchange,
            seed: options.seed,
            ratePerSymbol: options.ratePerSymbol,
            symbols: symbols ?? null,
            wsUrl,
            restUrl,
            wsUrls,
            restUrls,
          };
        case 'GET /control/connections':
          return connections();
        case 'GET /control/book-snapshots':
          return snapshotLog;
        case 'GET /control/sent-trades': {
          const symbol = url.searchParams.get('symbol');
          if (symbol === null) throw new BadRequestError('symbol query parameter is required');
          const on = url.searchParams.get('exchange') ?? 'binance';
          if (!isSimulatedExchange(on)) {
            throw new BadRequestError(`exchange must be one of ${SIMULATED_EXCHANGES.join(', ')}`);
          }
          return { symbol: symbol.toLowerCase(), exchange: on, ranges: sentTrades(symbol, on) };
        }
        case 'POST /control/drop-all': {
          const body = await readJsonObject(req);
          return { dropped: dropAll(body.mode === 'close' ? 'close' : 'terminate') };
        }
        case 'POST /control/stall': {
          const body = await readJsonObject(req);
          stall(numberField(body, 'ms'), body.mode === 'buffer' ? 'buffer' : 'drop');
          return stats();
        }
        case 'POST /control/refuse': {
          const body = await readJsonObject(req);
          refuse(numberField(body, 'ms'), numberField(body, 'status', 503));
          return stats();
        }
        case 'POST /control/clear':
          clear();
          return stats();
        default:
          return undefined;
      }
    });
  };

  /** REST routes of the exchanges that have them (order book snapshots...), by path prefix. */
  const rest = (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    const on = SIMULATED_EXCHANGES.find((x) => {
      const routes = PROTOCOLS[x].rest;
      return routes !== undefined && url.pathname.startsWith(routes.prefix);
    });
    if (on === undefined) return false;
    restRequests++;
    const answer = PROTOCOLS[on].rest!.answer(req.method ?? 'GET', url, contexts.get(on)!);
    res.writeHead(answer.status, { ...answer.headers, 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
    return true;
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!rest(req, res, url)) void control(req, res);
  });
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  const wsUrls = Object.fromEntries(
    SIMULATED_EXCHANGES.map((on) => [
      on,
      `ws://${host}:${port}${PROTOCOLS[on].wsPath}${PROTOCOLS[on].wsQuery}`,
    ]),
  ) as Record<SimulatedExchange, string>;
  const restUrls: Partial<Record<SimulatedExchange, string>> = {};
  for (const on of SIMULATED_EXCHANGES) {
    const routes: ExchangeProtocol['rest'] = PROTOCOLS[on].rest;
    if (routes !== undefined) restUrls[on] = `http://${host}:${port}${routes.base}`;
  }
  const envName = (on: string): string => on.toUpperCase().replace(/-/g, '_');
  const relayEnv: Record<string, string> = {};
  for (const on of SIMULATED_EXCHANGES) relayEnv[`WSS_URL_${envName(on)}`] = wsUrls[on];
  for (const [on, url] of Object.entries(restUrls)) relayEnv[`REST_URL_${envName(on)}`] = url;
  const wsUrl = wsUrls.binance;
  const restUrl = restUrls.binance!;
  const timer = setInterval(pump, options.tickIntervalMs ?? 5);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      clearInterval(timer);
      dropAll('terminate');
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })();
    return stopped;
  };

  return {
    wsUrl,
    restUrl,
    wsUrls,
    restUrls,
    relayEnv,
    port,
    controlUrl: `http://${host}:${port}/control`,
    exchange,
    seed: options.seed,
    ratePerSymbol: options.ratePerSymbol,
    groundTruth: streamOf,
    dropAll,
    sendRaw,
    stall,
    refuse,
    clear,
    stats,
    sentTrades,
    sentBookChanges,
    sentIds,
    bookSnapshots: () => snapshotLog.map((r) => ({ ...r })),
    connections,
    stop,
  };
}

/** Extends the last run of `runs` with `id`, or starts a new run. */
function appendId(runs: { firstId: number; lastId: number }[], id: number): void {
  const last = runs.at(-1);
  if (last !== undefined && last.lastId + 1 === id) last.lastId = id;
  else runs.push({ firstId: id, lastId: id });
}
