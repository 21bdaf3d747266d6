/**
 * Binance USD-M futures wire format of ground-truth ticks, as fstream's combined streams send them and as
 * Tardis.dev stores them (tardis-dev 13.35.3 connects without `timeUnit`: times are milliseconds). Pure.
 *
 * Order book ids: every futures depth event carries `U` (first update id), `u` (last) and `pu` (the
 * previous event's `u`); here one event is one ground-truth update, so U = u = update id and pu = u - 1.
 * A client starts from a REST snapshot with the first event where U <= lastUpdateId <= u, so the
 * snapshot's `lastUpdateId` is the id of the first update it does NOT hold (see futuresDepthSnapshot).
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

export const BINANCE_FUTURES_EXCHANGE = 'binance-futures';

/** Futures channel name -> ground-truth kind. Channels not listed here are accepted but carry no data. */
export const BINANCE_FUTURES_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  trade: 'trade',
  bookTicker: 'bookTicker',
  depth: 'bookChange',
};

/** Stream name suffix after the symbol: tardis-dev subscribes `btcusdt@depth@0ms` on futures. */
const STREAM_SUFFIX: Readonly<Record<TickKind, string>> = {
  trade: 'trade',
  bookTicker: 'bookTicker',
  bookChange: 'depth@0ms',
};

export interface FuturesTradeData {
  e: 'trade';
  E: number;
  T: number;
  s: string;
  t: number;
  p: string;
  q: string;
  /** MARKET for an order book trade; INSURANCE_FUND / ADL / NA are off-book (tardis-dev skips them). */
  X: 'MARKET';
  m: boolean;
}

export interface FuturesBookTickerData {
  e: 'bookTicker';
  u: number;
  s: string;
  b: string;
  B: string;
  a: string;
  A: string;
  T: number;
  E: number;
}

export interface FuturesDepthUpdateData {
  e: 'depthUpdate';
  E: number;
  T: number;
  s: string;
  U: number;
  u: number;
  pu: number;
  b: BookLevel[];
  a: BookLevel[];
}

/** `GET /fapi/v1/depth` body: unlike spot it carries the exchange times `E` and `T`. */
export interface FuturesDepthSnapshot {
  lastUpdateId: number;
  E: number;
  T: number;
  bids: BookLevel[];
  asks: BookLevel[];
}

export interface FuturesFrame {
  stream: string;
  data: FuturesTradeData | FuturesBookTickerData | FuturesDepthUpdateData;
}

function tradeData(trade: Trade): FuturesTradeData {
  const t = trade.timestamp;
  return {
    e: 'trade',
    E: t,
    T: t,
    s: trade.symbol.toUpperCase(),
    t: trade.id,
    p: trade.price,
    q: trade.qty,
    X: 'MARKET',
    m: trade.isBuyerMaker,
  };
}

function bookTickerData(quote: BookTicker): FuturesBookTickerData {
  return {
    e: 'bookTicker',
    u: quote.updateId,
    s: quote.symbol.toUpperCase(),
    b: quote.bidPrice,
    B: quote.bidQty,
    a: quote.askPrice,
    A: quote.askQty,
    T: quote.timestamp,
    E: quote.timestamp,
  };
}

function depthUpdateData(change: BookChange): FuturesDepthUpdateData {
  return {
    e: 'depthUpdate',
    E: change.timestamp,
    T: change.timestamp,
    s: change.symbol.toUpperCase(),
    U: change.updateId,
    u: change.updateId,
    pu: change.updateId - 1,
    b: [...change.bids],
    a: [...change.asks],
  };
}

/** The frame the simulator sends and the history server stores for a tick. */
export function binanceFuturesFrame(tick: Tick): FuturesFrame {
  const stream = `${tick.symbol.toLowerCase()}@${STREAM_SUFFIX[tick.kind]}`;
  switch (tick.kind) {
    case 'trade':
      return { stream, data: tradeData(tick) };
    case 'bookTicker':
      return { stream, data: bookTickerData(tick) };
    case 'bookChange':
      return { stream, data: depthUpdateData(tick) };
  }
}

/**
 * The REST depth answer for a ground-truth book taken at `at` (ms): `lastUpdateId` is one past the last
 * update the book holds, so the first event a client applies on it (U <= lastUpdateId <= u) is the first
 * update it lacks: nothing is applied twice and nothing is skipped.
 */
export function futuresDepthSnapshot(book: BookSnapshot, at: number): FuturesDepthSnapshot {
  return { lastUpdateId: book.lastUpdateId + 1, E: at, T: at, bids: [...book.bids], asks: [...book.asks] };
}

/** How Tardis stores the REST snapshot its recorder fetched: a generated `depthSnapshot` message. */
export function futuresDepthSnapshotFrame(
  book: BookSnapshot,
  at: number,
): { stream: string; generated: true; data: FuturesDepthSnapshot } {
  return { stream: `${book.symbol}@depthSnapshot`, generated: true, data: futuresDepthSnapshot(book, at) };
}
