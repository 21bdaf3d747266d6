/**
 * A local Binance spot stand-in speaking the combined-stream websocket protocol as tardis-dev 13.35.3
 * uses it (set WSS_URL_BINANCE to `wsUrl`). It emits ground-truth ticks in real time, records exactly
 * what it wrote to each connection, and takes faults programmatically or over HTTP (same port,
 * /control/*) so another process can drive it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  BINANCE_CHANNEL_KINDS,
  BINANCE_EXCHANGE,
  binanceFrame,
  parseBinanceStreamName,
  parseTimeUnit,
  type TimeUnit,
} from './binance-wire.ts';
import {
  mergeIdRanges,
  tickSource,
  type GroundTruthStream,
  type IdRange,
  type TickKind,
  type TickSource,
} from './ground-truth.ts';
import { BadRequestError, handleControl, numberField, readJsonObject } from './http-json.ts';

export interface SimulatorOptions {
  readonly seed: number;
  /** Ticks per second per symbol per stream kind (0 < rate <= 1000). */
  readonly ratePerSymbol: number;
  /** Symbols that carry data; others can be subscribed but stay silent. Default: any symbol. */
  readonly symbols?: readonly string[];
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
  readonly stalledUntil: number | null;
  readonly refusingUntil: number | null;
}

export interface ConnectionRecord {
  readonly id: number;
  readonly openedAt: number;
  readonly closedAt: number | null;
  readonly timeUnit: TimeUnit;
  readonly subscriptions: readonly string[];
  readonly framesSent: number;
  readonly framesByStream: Readonly<Record<string, number>>;
  /** Per lower-case symbol: the contiguous runs of trade ids written to this connection. */
  readonly trades: Readonly<Record<string, readonly IdRange[]>>;
}

export interface Simulator {
  /** Put this in WSS_URL_BINANCE; mirrors Binance's `/stream?timeUnit=microsecond`. */
  readonly wsUrl: string;
  readonly port: number;
  /** Base URL of the HTTP control endpoints. */
  readonly controlUrl: string;
  readonly exchange: string;
  readonly seed: number;
  readonly ratePerSymbol: number;
  /** The ground-truth stream of a symbol on this simulator, for tradesBetween & co. */
  groundTruth(symbol: string): GroundTruthStream;
  /** Terminates every connection (no close frame); returns how many. 'close' sends 1001 first. */
  dropAll(mode?: 'terminate' | 'close'): number;
  /** No data frames on any connection for `ms` (sockets stay open, subscriptions are answered). */
  stall(ms: number, mode?: StallMode): void;
  /** Answers new websocket upgrades with HTTP `status` (default 503) for `ms`. */
  refuse(ms: number, status?: number): void;
  /** Ends every fault window now. */
  clear(): void;
  stats(): SimulatorStats;
  /** Merged runs of trade ids written to any connection for a symbol. */
  sentTrades(symbol: string): IdRange[];
  connections(): ConnectionRecord[];
  /** Closes sockets, timers and the server; safe to call twice. */
  stop(): Promise<void>;
}

interface Subscription {
  readonly stream: string;
  /** undefined: a channel or symbol without data (accepted, silent). */
  readonly source: TickSource<TickKind> | undefined;
  nextIndex: number;
}

interface MutableRecord {
  id: number;
  openedAt: number;
  closedAt: number | null;
  timeUnit: TimeUnit;
  framesSent: number;
  framesByStream: Record<string, number>;
  trades: Record<string, { firstId: number; lastId: number }[]>;
  /** Kept after close, so a record still tells what the connection had subscribed. */
  readonly subscriptions: Map<string, Subscription>;
}

interface Connection {
  readonly ws: WebSocket;
  readonly record: MutableRecord;
  readonly subscriptions: Map<string, Subscription>;
  ageTimer: NodeJS.Timeout | undefined;
}

interface BinanceRequest {
  method?: unknown;
  params?: unknown;
  id?: unknown;
}

/** Starts the simulator; resolves once it listens. */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const exchange = BINANCE_EXCHANGE;
  const now = options.now ?? Date.now;
  const symbols = options.symbols?.map((s) => s.toLowerCase());
  const streamOf = (symbol: string): GroundTruthStream => ({
    seed: options.seed,
    exchange,
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
  const framesByKind: Record<TickKind, number> = { trade: 0, bookTicker: 0 };
  let stalledUntil = 0;
  let stallMode: StallMode = 'drop';
  let refusingUntil = 0;
  let refuseStatus = 503;
  let stopping = false;

  const sourceFor = (symbol: string, channel: string): TickSource<TickKind> | undefined => {
    const kind = BINANCE_CHANNEL_KINDS[channel];
    if (kind === undefined) return undefined;
    if (symbols !== undefined && !symbols.includes(symbol)) return undefined;
    return tickSource(kind, streamOf(symbol));
  };

  const subscribe = (conn: Connection, stream: string): boolean => {
    const parsed = parseBinanceStreamName(stream);
    if (parsed === undefined) return false;
    const name = `${parsed.symbol}@${parsed.channel}`;
    if (conn.subscriptions.has(name)) return true;
    const source = sourceFor(parsed.symbol, parsed.channel);
    // Only ticks that happen after the subscription are sent, as on a live exchange.
    const nextIndex = source === undefined ? 0 : source.indexAtOrAfter(now() + 1);
    conn.subscriptions.set(name, { stream: name, source, nextIndex });
    return true;
  };

  const recordSent = (conn: Connection, stream: string, kind: TickKind, symbol: string, id: number): void => {
    framesSent++;
    framesByKind[kind]++;
    const record = conn.record;
    record.framesSent++;
    record.framesByStream[stream] = (record.framesByStream[stream] ?? 0) + 1;
    if (kind !== 'trade') return;
    const runs = (record.trades[symbol] ??= []);
    const last = runs.at(-1);
    if (last !== undefined && last.lastId + 1 === id) last.lastId = id;
    else runs.push({ firstId: id, lastId: id });
  };

  const pump = (): void => {
    const t = now();
    const stalled = t < stalledUntil;
    for (const conn of open) {
      if (conn.ws.readyState !== WebSocket.OPEN) continue;
      for (const sub of conn.subscriptions.values()) {
        const source = sub.source;
        if (source === undefined) continue;
        const end = source.indexAtOrAfter(t + 1);
        if (stalled) {
          if (stallMode === 'drop') sub.nextIndex = Math.max(sub.nextIndex, end);
          continue;
        }
        // A dropped stall never sends a tick stamped inside it, even one the last stalled pass missed.
        if (stallMode === 'drop' && stalledUntil > 0) {
          sub.nextIndex = Math.max(sub.nextIndex, source.indexAtOrAfter(stalledUntil));
        }
        if (end <= sub.nextIndex) continue;
        const ticks = source.ticks(sub.nextIndex, end);
        sub.nextIndex = end;
        const timeUnit = conn.record.timeUnit;
        for (const tick of ticks) {
          const frame = JSON.stringify(
            binanceFrame(tick, { timeUnit, bookTickerEventTime: options.bookTickerEventTime ?? false }),
          );
          const id = tick.kind === 'trade' ? tick.id : tick.updateId;
          // Counted once the frame reached the socket: "sent" means written, not merely queued.
          conn.ws.send(frame, (error) => {
            if (error === undefined || error === null)
              recordSent(conn, sub.stream, tick.kind, tick.symbol, id);
          });
        }
      }
    }
  };

  const reply = (conn: Connection, message: unknown): void => {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(message));
  };

  const onMessage = (conn: Connection, raw: RawData): void => {
    let request: BinanceRequest;
    try {
      request = JSON.parse(raw.toString()) as BinanceRequest;
    } catch {
      reply(conn, { error: { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }, id: null });
      return;
    }
    const id = typeof request.id === 'number' || typeof request.id === 'string' ? request.id : null;
    const params = Array.isArray(request.params) ? request.params : [];
    switch (request.method) {
      case 'SUBSCRIBE': {
        subscribes++;
        const ok = params.every((p) => typeof p === 'string' && subscribe(conn, p));
        reply(
          conn,
          ok ? { result: null, id } : { error: { code: 2, msg: 'Invalid request: invalid stream' }, id },
        );
        return;
      }
      case 'UNSUBSCRIBE':
        for (const p of params) {
          const parsed = typeof p === 'string' ? parseBinanceStreamName(p) : undefined;
          if (parsed !== undefined) conn.subscriptions.delete(`${parsed.symbol}@${parsed.channel}`);
        }
        reply(conn, { result: null, id });
        return;
      case 'LIST_SUBSCRIPTIONS':
        reply(conn, { result: [...conn.subscriptions.keys()], id });
        return;
      default:
        reply(conn, { error: { code: 2, msg: 'Invalid request: unknown variant' }, id });
    }
  };

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  const onConnection = (ws: WebSocket, url: URL): void => {
    connectionsAccepted++;
    const record: MutableRecord = {
      id: nextConnectionId++,
      openedAt: now(),
      closedAt: null,
      timeUnit: parseTimeUnit(url.searchParams.get('timeUnit')),
      framesSent: 0,
      framesByStream: {},
      trades: {},
      subscriptions: new Map(),
    };
    records.push(record);
    const conn: Connection = { ws, record, subscriptions: record.subscriptions, ageTimer: undefined };
    open.add(conn);
    // Binance also accepts streams in the URL: /stream?streams=btcusdt@trade/ethusdt@trade
    for (const stream of url.searchParams.get('streams')?.split('/') ?? []) subscribe(conn, stream);
    if (options.maxConnectionAgeMs !== undefined) {
      conn.ageTimer = setTimeout(() => ws.close(1001, 'connection age limit'), options.maxConnectionAgeMs);
    }
    ws.on('message', (raw) => onMessage(conn, raw));
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
    if (url.pathname !== '/stream') return rejectWith(404, 'Not Found');
    if (now() < refusingUntil) {
      refused++;
      return rejectWith(refuseStatus, 'Refused By Simulator');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, url));
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
      stalledUntil: t < stalledUntil ? stalledUntil : null,
      refusingUntil: t < refusingUntil ? refusingUntil : null,
    };
  };

  const sentTrades = (symbol: string): IdRange[] =>
    mergeIdRanges(records.flatMap((r) => r.trades[symbol.toLowerCase()] ?? []));

  const connections = (): ConnectionRecord[] =>
    records.map((r) => ({
      ...r,
      subscriptions: [...r.subscriptions.keys()],
      framesByStream: { ...r.framesByStream },
      trades: Object.fromEntries(
        Object.entries(r.trades).map(([s, runs]) => [s, runs.map((x) => ({ ...x }))]),
      ),
    }));

  const stall = (ms: number, mode: StallMode = 'drop'): void => {
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
          };
        case 'GET /control/connections':
          return connections();
        case 'GET /control/sent-trades': {
          const symbol = url.searchParams.get('symbol');
          if (symbol === null) throw new BadRequestError('symbol query parameter is required');
          return { symbol: symbol.toLowerCase(), ranges: sentTrades(symbol) };
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

  const server = createServer((req, res) => void control(req, res));
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
  const wsUrl = `ws://${host}:${port}/stream?timeUnit=microsecond`;
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
    port,
    controlUrl: `http://${host}:${port}/control`,
    exchange,
    seed: options.seed,
    ratePerSymbol: options.ratePerSymbol,
    groundTruth: streamOf,
    dropAll,
    stall,
    refuse,
    clear,
    stats,
    sentTrades,
    connections,
    stop,
  };
}
