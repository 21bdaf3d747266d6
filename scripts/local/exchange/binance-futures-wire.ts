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
  DerivativeTicker,
  Liquidation,
  Tick,
  TickKind,
  Trade,
} from './ground-truth.ts';

import { binanceFrame, type BinanceBookTickerData, type BinanceWireOptions } from './binance-wire.ts';

const SPOT_WITH_TIMES: BinanceWireOptions = { timeUnit: 'millisecond', bookTickerEventTime: true };

export const BINANCE_FUTURES_EXCHANGE = 'binance-futures';

/**
 * Futures websocket channel -> ground-truth kind. Channels not listed here are accepted but carry no data.
 * A derivative ticker is two messages on the wire: `markPrice` (mark, index, funding) and `ticker` (last
 * price); its open interest is polled over REST (`openInterestBody`).
 */
export const BINANCE_FUTURES_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  trade: 'trade',
  bookTicker: 'bookTicker',
  depth: 'bookChange',
  markPrice: 'derivativeTicker',
  ticker: 'derivativeTicker',
  forceOrder: 'liquidation',
};

/** Tardis channels: the websocket's, plus the recorder's `openInterest` polls stored as generated messages. */
export const BINANCE_FUTURES_TARDIS_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  ...BINANCE_FUTURES_CHANNEL_KINDS,
  openInterest: 'derivativeTicker',
};

/** Stream name suffix after the symbol, per channel: tardis-dev subscribes `btcusdt@depth@0ms` on futures. */
const STREAM_SUFFIX: Readonly<Record<string, string>> = {
  depth: 'depth@0ms',
  markPrice: 'markPrice@1s',
};

/** The channel of a kind that has one only (a derivative ticker has two: pass its channel). */
const CHANNEL_OF: Readonly<Partial<Record<TickKind, string>>> = {
  trade: 'trade',
  bookTicker: 'bookTicker',
  bookChange: 'depth',
  liquidation: 'forceOrder',
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

/** Spot's bookTicker with the event and transaction times futures always send. */
export type FuturesBookTickerData = Required<BinanceBookTickerData>;

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

/** `<symbol>@markPrice@1s`: `p` mark, `i` index, `P` estimated settle price, `r` funding rate, `T` funding time. */
export interface FuturesMarkPriceData {
  e: 'markPriceUpdate';
  E: number;
  s: string;
  p: string;
  i: string;
  P: string;
  r: string;
  T: number;
}

/** `<symbol>@ticker`, the 24 h rolling ticker; tardis-dev reads only `c` (last price) and `E`. */
export interface FuturesTickerData {
  e: '24hrTicker';
  E: number;
  s: string;
  c: string;
  O: number;
  C: number;
}

/** `<symbol>@forceOrder`: a liquidation order (no order id on the wire). */
export interface FuturesForceOrderData {
  e: 'forceOrder';
  E: number;
  o: {
    s: string;
    S: 'BUY' | 'SELL';
    o: 'LIMIT';
    f: 'IOC';
    q: string;
    p: string;
    ap: string;
    X: 'FILLED';
    l: string;
    z: string;
    T: number;
  };
}

/** `GET /fapi/v1/openInterest?symbol=BTCUSDT`: the open interest and the time it was computed. */
export interface FuturesOpenInterest {
  symbol: string;
  openInterest: string;
  time: number;
}

export interface FuturesFrame {
  stream: string;
  data:
    | FuturesTradeData
    | FuturesBookTickerData
    | FuturesDepthUpdateData
    | FuturesMarkPriceData
    | FuturesTickerData
    | FuturesForceOrderData;
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

function markPriceData(ticker: DerivativeTicker): FuturesMarkPriceData {
  return {
    e: 'markPriceUpdate',
    E: ticker.timestamp,
    s: ticker.symbol.toUpperCase(),
    p: ticker.markPrice,
    i: ticker.indexPrice,
    P: ticker.indexPrice,
    r: ticker.fundingRate,
    T: ticker.fundingTime,
  };
}

const DAY_MS = 86_400_000;

function tickerData(ticker: DerivativeTicker): FuturesTickerData {
  const t = ticker.timestamp;
  return { e: '24hrTicker', E: t, s: ticker.symbol.toUpperCase(), c: ticker.lastPrice, O: t - DAY_MS, C: t };
}

function forceOrderData(liquidation: Liquidation): FuturesForceOrderData {
  const { price, qty, timestamp } = liquidation;
  return {
    e: 'forceOrder',
    E: timestamp,
    o: {
      s: liquidation.symbol.toUpperCase(),
      S: liquidation.side === 'sell' ? 'SELL' : 'BUY',
      o: 'LIMIT',
      f: 'IOC',
      q: qty,
      p: price,
      ap: price,
      X: 'FILLED',
      l: qty,
      z: qty,
      T: timestamp,
    },
  };
}

/**
 * The frame the simulator sends and the history server stores for a tick on `channel` (a derivative
 * ticker: `markPrice` or `ticker`; other kinds have one channel and ignore it).
 */
export function binanceFuturesFrame(tick: Tick, channel?: string): FuturesFrame {
  const on = tick.kind === 'derivativeTicker' ? (channel ?? 'markPrice') : CHANNEL_OF[tick.kind]!;
  const stream = `${tick.symbol.toLowerCase()}@${STREAM_SUFFIX[on] ?? on}`;
  switch (tick.kind) {
    case 'trade':
      return { stream, data: tradeData(tick) };
    case 'bookTicker':
      // Spot's bookTicker with its event times, which futures always sends.
      return { stream, data: binanceFrame(tick, SPOT_WITH_TIMES).data as FuturesBookTickerData };
    case 'bookChange':
      return { stream, data: depthUpdateData(tick) };
    case 'liquidation':
      return { stream, data: forceOrderData(tick) };
    case 'derivativeTicker':
      if (on === 'markPrice') return { stream, data: markPriceData(tick) };
      if (on === 'ticker') return { stream, data: tickerData(tick) };
      throw new Error(`binance-futures has no ${on} stream of derivative tickers`);
  }
}

/** The REST open interest answer at a derivative ticker: its value, stamped with its time. */
export function openInterestBody(ticker: DerivativeTicker): FuturesOpenInterest {
  return { symbol: ticker.symbol.toUpperCase(), openInterest: ticker.openInterest, time: ticker.timestamp };
}

/** How tardis-dev (live) and Tardis (history) wrap an open interest poll: a generated message. */
export function openInterestFrame(ticker: DerivativeTicker): {
  stream: string;
  generated: true;
  data: FuturesOpenInterest;
} {
  return { stream: `${ticker.symbol}@openInterest`, generated: true, data: openInterestBody(ticker) };
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
