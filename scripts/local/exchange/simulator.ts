/**
 * A local stand-in for two exchanges' websocket feeds, speaking each protocol as tardis-dev 13.35.3
 * uses it: Binance spot's combined streams on `/stream` (set WSS_URL_BINANCE to `wsUrl`) with the REST
 * `exchangeInfo` and `depth` endpoints its order book needs (`restUrl`, under /api/v3), and the Coinbase
 * Exchange feed on `/coinbase` (set WSS_URL_COINBASE to `wsUrls.coinbase`). It emits ground-truth ticks
 * in real time, records exactly what it wrote to each connection, and takes faults programmatically or
 * over HTTP (same port, /control/*) so another process can drive it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  BINANCE_CHANNEL_KINDS,
  BINANCE_EXCHANGE,
  binanceDepthSnapshot,
  binanceFrame,
  parseBinanceStreamName,
  parseTimeUnit,
  type TimeUnit,
} from './binance-wire.ts';
import {
  COINBASE_CHANNEL_KINDS,
  COINBASE_EXCHANGE,
  COINBASE_SILENT_CHANNELS,
  coinbaseL2Snapshot,
  coinbaseMatch,
  coinbaseMessage,
  isCoinbaseProductId,
} from './coinbase-wire.ts';
import {
  bookSnapshot,
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
  /** Order book snapshots handed out: Binance REST depth answers and Coinbase level2 snapshots. */
  readonly bookSnapshots: number;
  /** Binance REST requests answered (exchangeInfo, depth), any status. */
  readonly restRequests: number;
  readonly stalledUntil: number | null;
  readonly refusingUntil: number | null;
}

/** The exchanges the simulator speaks, by websocket path. */
export type SimulatedExchange = 'binance' | 'coinbase';

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

/** An order book snapshot the simulator handed out (REST depth or Coinbase `snapshot`). */
export interface BookSnapshotRecord {
  readonly exchange: SimulatedExchange;
  readonly symbol: string;
  /** The snapshot holds every update with id <= lastUpdateId. */
  readonly lastUpdateId: number;
  readonly at: number;
  /** Coinbase: the websocket connection; Binance: null (REST). */
  readonly connectionId: number | null;
}

export interface Simulator {
  /** Put this in WSS_URL_BINANCE; mirrors Binance's `/stream?timeUnit=microsecond`. */
  readonly wsUrl: string;
  /** Binance REST base (`http://127.0.0.1:PORT/api/v3`): the relay's REST_URL_BINANCE. */
  readonly restUrl: string;
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

interface CoinbaseRequest {
  type?: unknown;
  product_ids?: unknown;
  channels?: unknown;
}

const WS_PATHS: Readonly<Record<string, SimulatedExchange>> = {
  '/stream': 'binance',
  '/coinbase': 'coinbase',
};

/** Starts the simulator; resolves once it listens. */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const exchange = BINANCE_EXCHANGE;
  const now = options.now ?? Date.now;
  const symbols = options.symbols?.map((s) => s.toLowerCase());
  const unlisted = new Set(options.unlisted?.map((s) => s.toLowerCase()) ?? []);
  const streamOf = (symbol: string, on: SimulatedExchange = 'binance'): GroundTruthStream => ({
    seed: options.seed,
    exchange: on === 'coinbase' ? COINBASE_EXCHANGE : BINANCE_EXCHANGE,
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
  let stallMode: StallMode = 'drop';
  let refusingUntil = 0;
  let refuseStatus = 503;
  let stopping = false;

  const sourceFor = (
    on: SimulatedExchange,
    symbol: string,
    kind: TickKind | undefined,
  ): TickSource<TickKind> | undefined => {
    if (kind === undefined) return undefined;
    if (symbols !== undefined && !symbols.includes(symbol)) return undefined;
    if (unlisted.has(symbol)) return undefined;
    return tickSource(kind, streamOf(symbol, on));
  };

  const addSubscription = (
    conn: Connection,
    name: string,
    source: TickSource<TickKind> | undefined,
  ): void => {
    if (conn.subscriptions.has(name)) return;
    // Only ticks that happen after the subscription are sent, as on a live exchange.
    const nextIndex = source === undefined ? 0 : source.indexAtOrAfter(now() + 1);
    conn.subscriptions.set(name, { stream: name, source, nextIndex });
  };

  const subscribe = (conn: Connection, stream: string): boolean => {
    const parsed = parseBinanceStreamName(stream);
    if (parsed === undefined) return false;
    const name = `${parsed.symbol}@${parsed.channel}`;
    addSubscription(conn, name, sourceFor('binance', parsed.symbol, BINANCE_CHANNEL_KINDS[parsed.channel]));
    return true;
  };

  const recordSent = (conn: Connection, stream: string, kind: TickKind, symbol: string, id: number): void => {
    framesSent++;
    framesByKind[kind]++;
    const record = conn.record;
    record.framesSent++;
    record.framesByStream[stream] = (record.framesByStream[stream] ?? 0) + 1;
    if (kind === 'bookTicker') return;
    const runs = ((kind === 'trade' ? record.trades : record.bookChanges)[symbol] ??= []);
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
        const coinbase = conn.record.exchange === 'coinbase';
        for (const tick of ticks) {
          const frame = JSON.stringify(
            coinbase
              ? coinbaseMessage(tick)
              : binanceFrame(tick, { timeUnit, bookTickerEventTime: options.bookTickerEventTime ?? false }),
          );
          const id = tick.kind === 'trade' || tick.kind === 'liquidation' ? tick.id : tick.updateId;
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

  /** Coinbase: `{"type":"subscribe","channels":[{"name":"matches","product_ids":["BTC-USD"]}, "heartbeat"],
   *  "product_ids":[...]}`; answers `subscriptions` with the full set, or one `error` and subscribes nothing. */
  const onCoinbaseMessage = (conn: Connection, raw: RawData): void => {
    const error = (message: string, reason: string) => reply(conn, { type: 'error', message, reason });
    let request: CoinbaseRequest;
    try {
      request = JSON.parse(raw.toString()) as CoinbaseRequest;
    } catch {
      error('Failed to subscribe', 'malformed JSON');
      return;
    }
    if (request.type !== 'subscribe' && request.type !== 'unsubscribe') {
      error('Failed to subscribe', `${String(request.type)} is not a valid message type`);
      return;
    }
    const topProducts = Array.isArray(request.product_ids) ? request.product_ids : [];
    const wanted: { channel: string; product: string }[] = [];
    for (const entry of Array.isArray(request.channels) ? request.channels : []) {
      const channel = typeof entry === 'string' ? entry : (entry as { name?: unknown })?.name;
      const products =
        typeof entry === 'object' &&
        entry !== null &&
        Array.isArray((entry as { product_ids?: unknown }).product_ids)
          ? (entry as { product_ids: unknown[] }).product_ids
          : topProducts;
      if (typeof channel !== 'string') {
        error('Failed to subscribe', 'channel name missing');
        return;
      }
      if (COINBASE_CHANNEL_KINDS[channel] === undefined && !COINBASE_SILENT_CHANNELS.includes(channel)) {
        error('Failed to subscribe', `${channel} is not a valid channel`);
        return;
      }
      for (const product of products) {
        const id = String(product);
        if (!isCoinbaseProductId(id) || unlisted.has(id.toLowerCase())) {
          error('Failed to subscribe', `${id} is not a valid product`);
          return;
        }
        wanted.push({ channel, product: id });
      }
    }
    subscribes++;
    const snapshots: unknown[] = [];
    for (const { channel, product } of wanted) {
      const name = `${channel}:${product}`;
      if (request.type === 'unsubscribe') {
        conn.subscriptions.delete(name);
        continue;
      }
      const symbol = product.toLowerCase();
      const source = sourceFor('coinbase', symbol, COINBASE_CHANNEL_KINDS[channel]);
      const isNew = !conn.subscriptions.has(name);
      addSubscription(conn, name, source);
      // Coinbase starts a matches subscription with the product's previous trade as `last_match`
      // (tardis-dev does not map it to a trade); it is not counted as a sent trade.
      const first = conn.subscriptions.get(name)!.nextIndex;
      if (isNew && source !== undefined && source.kind === 'trade' && first > 0) {
        const previous = source.tick(first - 1);
        if (previous.kind === 'trade') reply(conn, coinbaseMatch(previous, 'last_match'));
      }
      // A level2 subscription starts with the whole book, holding every update before the first one sent.
      if (isNew && source !== undefined && source.kind === 'bookChange') {
        const at = now();
        const book = bookSnapshot(source.stream, first);
        snapshotLog.push({
          exchange: 'coinbase',
          symbol,
          lastUpdateId: first,
          at,
          connectionId: conn.record.id,
        });
        snapshots.push(coinbaseL2Snapshot(book, at));
      }
    }
    const byChannel = new Map<string, string[]>();
    for (const name of conn.subscriptions.keys()) {
      const [channel, product] = name.split(':') as [string, string];
      byChannel.set(channel, [...(byChannel.get(channel) ?? []), product]);
    }
    reply(conn, {
      type: 'subscriptions',
      channels: [...byChannel.entries()].map(([name, product_ids]) => ({
        name,
        product_ids,
        account_ids: null,
      })),
    });
    for (const snapshot of snapshots) reply(conn, snapshot);
  };

  const onMessage = (conn: Connection, raw: RawData): void => {
    if (conn.record.exchange === 'coinbase') {
      onCoinbaseMessage(conn, raw);
      return;
    }
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

  const onConnection = (ws: WebSocket, url: URL, on: SimulatedExchange): void => {
    connectionsAccepted++;
    const record: MutableRecord = {
      id: nextConnectionId++,
      exchange: on,
      openedAt: now(),
      closedAt: null,
      timeUnit: parseTimeUnit(url.searchParams.get('timeUnit')),
      framesSent: 0,
      framesByStream: {},
      trades: {},
      bookChanges: {},
      subscriptions: new Map(),
    };
    records.push(record);
    const conn: Connection = { ws, record, subscriptions: record.subscriptions, ageTimer: undefined };
    open.add(conn);
    // Binance also accepts streams in the URL: /stream?streams=btcusdt@trade/ethusdt@trade
    if (on === 'binance') {
      for (const stream of url.searchParams.get('streams')?.split('/') ?? []) subscribe(conn, stream);
    }
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
    const on = WS_PATHS[url.pathname];
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

  const sentTrades = (symbol: string, on: SimulatedExchange = 'binance'): IdRange[] =>
    mergeIdRanges(
      records.filter((r) => r.exchange === on).flatMap((r) => r.trades[symbol.toLowerCase()] ?? []),
    );
  const sentBookChanges = (symbol: string, on: SimulatedExchange = 'binance'): IdRange[] =>
    mergeIdRanges(
      records.filter((r) => r.exchange === on).flatMap((r) => r.bookChanges[symbol.toLowerCase()] ?? []),
    );

  const connections = (): ConnectionRecord[] =>
    records.map((r) => ({
      ...r,
      subscriptions: [...r.subscriptions.keys()],
      framesByStream: { ...r.framesByStream },
      trades: Object.fromEntries(
        Object.entries(r.trades).map(([s, runs]) => [s, runs.map((x) => ({ ...x }))]),
      ),
      bookChanges: Object.fromEntries(
        Object.entries(r.bookChanges).map(([s, runs]) => [s, runs.map((x) => ({ ...x }))]),
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
            restUrl,
            wsUrls,
          };
        case 'GET /control/connections':
          return connections();
        case 'GET /control/book-snapshots':
          return snapshotLog;
        case 'GET /control/sent-trades': {
          const symbol = url.searchParams.get('symbol');
          if (symbol === null) throw new BadRequestError('symbol query parameter is required');
          const on = url.searchParams.get('exchange') === 'coinbase' ? 'coinbase' : 'binance';
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

  /**
   * Binance spot REST, the two endpoints tardis-dev's order book needs: `exchangeInfo` (it reads the
   * REQUEST_WEIGHT limit and the `x-mbx-used-weight-1m` header) and `depth?symbol=BTCUSDT&limit=1000`
   * (the book now: every update with timestamp <= now, `lastUpdateId` the last of them).
   */
  const rest = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    restRequests++;
    const headers = { 'x-mbx-used-weight-1m': '20' };
    const answer = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { ...headers, 'content-type': 'application/json' });
      res.end(text);
    };
    if (now() < refusingUntil) return answer(refuseStatus, { code: -1003, msg: 'Refused by simulator' });
    const endpoint = url.pathname.replace(/^\/api\/v[13]\//, '');
    if (req.method !== 'GET') return answer(405, { code: -1000, msg: 'method not allowed' });
    if (endpoint === 'exchangeInfo') {
      return answer(200, {
        timezone: 'UTC',
        serverTime: now(),
        rateLimits: [
          { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
          { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
        ],
        symbols: (symbols ?? []).filter((x) => !x.includes('-')).map((x) => ({ symbol: x.toUpperCase() })),
      });
    }
    if (endpoint === 'depth') {
      const symbol = (url.searchParams.get('symbol') ?? '').toLowerCase();
      const limit = Math.min(5000, Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100));
      const source = sourceFor('binance', symbol, 'bookChange');
      if (symbol.length === 0 || source === undefined)
        return answer(400, { code: -1121, msg: 'Invalid symbol.' });
      const at = now();
      const lastUpdateId = source.indexAtOrAfter(at + 1);
      const book = binanceDepthSnapshot(bookSnapshot(source.stream, lastUpdateId));
      snapshotLog.push({ exchange: 'binance', symbol, lastUpdateId, at, connectionId: null });
      return answer(200, { ...book, bids: book.bids.slice(0, limit), asks: book.asks.slice(0, limit) });
    }
    return answer(404, { code: -1, msg: `unknown endpoint ${url.pathname}` });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/api/')) rest(req, res, url);
    else void control(req, res);
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
  const wsUrl = `ws://${host}:${port}/stream?timeUnit=microsecond`;
  const restUrl = `http://${host}:${port}/api/v3`;
  const wsUrls: Record<SimulatedExchange, string> = {
    binance: wsUrl,
    coinbase: `ws://${host}:${port}/coinbase`,
  };
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
    bookSnapshots: () => snapshotLog.map((r) => ({ ...r })),
    connections,
    stop,
  };
}
