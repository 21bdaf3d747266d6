/**
 * Binance spot wire format of ground-truth ticks, as the combined-stream websocket sends them and as
 * Tardis.dev stores them. Pure. A second exchange gets its own `<exchange>-wire.ts` with the same shape.
 */
import type {
  BookChange,
  BookLevel,
  BookSnapshot,
  BookTicker,
  Tick,
  TickKind,
  Trade,
} from './ground-truth.ts';

export const BINANCE_EXCHANGE = 'binance';

/** Binance `timeUnit` query parameter: tardis-dev connects with `?timeUnit=microsecond`. */
export type TimeUnit = 'millisecond' | 'microsecond';

/** Binance channel name -> ground-truth kind. Channels not listed here are accepted but carry no data. */
export const BINANCE_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  trade: 'trade',
  bookTicker: 'bookTicker',
  depth: 'bookChange',
};

/** Stream name suffix after the symbol for each kind: tardis-dev subscribes `btcusdt@depth@100ms`. */
const STREAM_SUFFIX: Readonly<Partial<Record<TickKind, string>>> = {
  trade: 'trade',
  bookTicker: 'bookTicker',
  bookChange: 'depth@100ms',
};

export interface BinanceWireOptions {
  readonly timeUnit: TimeUnit;
  /**
   * Real spot bookTicker frames carry no event time (tardis-dev then uses the local receive time);
   * true adds the futures-style `e`, `E` and `T` so normalized book tickers get the exchange time.
   */
  readonly bookTickerEventTime?: boolean;
}

export interface BinanceTradeData {
  e: 'trade';
  E: number;
  s: string;
  t: number;
  p: string;
  q: string;
  T: number;
  m: boolean;
  M: boolean;
}

/** A diff depth event; one ground-truth update per event, so U = u (spot events carry no `pu`). */
export interface BinanceDepthUpdateData {
  e: 'depthUpdate';
  E: number;
  s: string;
  U: number;
  u: number;
  b: BookLevel[];
  a: BookLevel[];
}

/** `GET /api/v3/depth` body (spot has no `E`/`T`, so tardis-dev stamps the snapshot with its receive time). */
export interface BinanceDepthSnapshot {
  lastUpdateId: number;
  bids: BookLevel[];
  asks: BookLevel[];
}

export interface BinanceBookTickerData {
  e?: 'bookTicker';
  u: number;
  s: string;
  b: string;
  B: string;
  a: string;
  A: string;
  T?: number;
  E?: number;
}

/** A combined-stream frame: `{"stream":"btcusdt@trade","data":{...}}`. */
export interface BinanceCombinedFrame {
  stream: string;
  data: BinanceTradeData | BinanceBookTickerData | BinanceDepthUpdateData;
}

/** `btcusdt@trade` for ('trade', 'BTCUSDT'); `btcusdt@depth@100ms` for 'bookChange'. */
export function binanceStreamName(kind: TickKind, symbol: string): string {
  const suffix = STREAM_SUFFIX[kind];
  if (suffix === undefined) throw new Error(`binance spot has no ${kind} stream`);
  return `${symbol.toLowerCase()}@${suffix}`;
}

/** Splits `btcusdt@trade` (or `btcusdt@depth@100ms`) into lower-case symbol and channel. */
export function parseBinanceStreamName(stream: string): { symbol: string; channel: string } | undefined {
  const [symbol, channel] = stream.split('@');
  if (symbol === undefined || symbol.length === 0 || channel === undefined || channel.length === 0)
    return undefined;
  return { symbol: symbol.toLowerCase(), channel };
}

/** Reads Binance's `timeUnit` query value (case-insensitive); anything else means milliseconds. */
export function parseTimeUnit(value: string | null | undefined): TimeUnit {
  return value?.toLowerCase() === 'microsecond' ? 'microsecond' : 'millisecond';
}

const scale = (unit: TimeUnit): number => (unit === 'microsecond' ? 1000 : 1);

function tradeData(trade: Trade, options: BinanceWireOptions): BinanceTradeData {
  const t = trade.timestamp * scale(options.timeUnit);
  return {
    e: 'trade',
    E: t,
    s: trade.symbol.toUpperCase(),
    t: trade.id,
    p: trade.price,
    q: trade.qty,
    T: t,
    m: trade.isBuyerMaker,
    M: true,
  };
}

function bookTickerData(quote: BookTicker, options: BinanceWireOptions): BinanceBookTickerData {
  const base = {
    u: quote.updateId,
    s: quote.symbol.toUpperCase(),
    b: quote.bidPrice,
    B: quote.bidQty,
    a: quote.askPrice,
    A: quote.askQty,
  };
  if (options.bookTickerEventTime !== true) return base;
  const t = quote.timestamp * scale(options.timeUnit);
  return { e: 'bookTicker', ...base, T: t, E: t };
}

function depthUpdateData(change: BookChange, options: BinanceWireOptions): BinanceDepthUpdateData {
  return {
    e: 'depthUpdate',
    E: change.timestamp * scale(options.timeUnit),
    s: change.symbol.toUpperCase(),
    U: change.updateId,
    u: change.updateId,
    b: [...change.bids],
    a: [...change.asks],
  };
}

/** The frame the simulator sends and the history server stores for a tick. */
export function binanceFrame(tick: Tick, options: BinanceWireOptions): BinanceCombinedFrame {
  const stream = binanceStreamName(tick.kind, tick.symbol);
  switch (tick.kind) {
    case 'trade':
      return { stream, data: tradeData(tick, options) };
    case 'bookTicker':
      return { stream, data: bookTickerData(tick, options) };
    case 'bookChange':
      return { stream, data: depthUpdateData(tick, options) };
    default:
      throw new Error(`binance spot has no ${tick.kind} stream`);
  }
}

/** The REST depth answer for a ground-truth book. */
export function binanceDepthSnapshot(book: BookSnapshot): BinanceDepthSnapshot {
  return { lastUpdateId: book.lastUpdateId, bids: [...book.bids], asks: [...book.asks] };
}

/** How Tardis stores the REST snapshot its recorder fetched: a generated `depthSnapshot` message. */
export function binanceDepthSnapshotFrame(book: BookSnapshot): {
  stream: string;
  generated: true;
  data: BinanceDepthSnapshot;
} {
  return { stream: `${book.symbol}@depthSnapshot`, generated: true, data: binanceDepthSnapshot(book) };
}

/**
 * Tardis local timestamp of a tick in epoch microseconds: exchange time + a fixed latency + a seeded
 * sub-millisecond jitter. With latencyMs = 0 the local millisecond equals the exchange millisecond, so
 * Tardis's minute slices (cut by local time) hold exactly the ticks of that exchange-time minute.
 */
export function localTimestampMicros(tick: Pick<Tick, 'timestamp' | 'nonce'>, latencyMs: number): number {
  return (tick.timestamp + latencyMs) * 1000 + (tick.nonce % 1000);
}

/** Formats epoch microseconds as Tardis does: 28 chars, 7 fractional digits, e.g. 2023-11-14T22:13:20.0001230Z. */
export function formatTardisTimestamp(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 23)}${String(micros - ms * 1000).padStart(3, '0')}0Z`;
}
