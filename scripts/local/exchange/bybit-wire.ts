/**
 * Bybit v5 public linear websocket wire format of ground-truth ticks, as wss://stream.bybit.com/v5/public/
 * linear sends them and as Tardis.dev stores them (exchange `bybit`; a Tardis channel is the topic without
 * its symbol). Pure. Shapes follow tardis-node 13.35.3's mapper fixtures:
 * `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":..,"data":[{"T":..,"s":"BTCUSDT","S":"Buy",
 * "v":"0.4","p":"94.53","L":"PlusTick","i":"<uuid>","BT":false}]}` and `{"topic":"orderbook.1.BTCUSDT",
 * "type":"snapshot"|"delta","ts":..,"data":{"s":..,"b":[[p,q]],"a":[[p,q]],"u":..,"seq":..},"cts":..}`.
 *
 * `{"topic":"tickers.BTCUSDT","type":"snapshot"|"delta","data":{"symbol":..,"markPrice":..,...},"cs":..,"ts":..}`
 * and `{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":..,"data":[{"T":..,"s":..,"S":"Buy","v":..,"p":..}]}`.
 *
 * Simplifications: one trade per `publicTrade` message (Bybit batches trades of one match); `u` is the
 * ground-truth update id and `seq` that id plus BYBIT_SEQ_OFFSET, per topic (the real `seq` is one cross
 * sequence of the symbol's matching engine, shared by every depth). A trade id is a UUID, as on Bybit, whose
 * last group holds the ground-truth trade id in hex, so a verifier can map it back (groundTruthTradeId).
 */
import type { DerivativeTicker, Liquidation } from './ground-truth-derivatives.ts';
import type {
  BookChange,
  BookLevel,
  BookSnapshot,
  BookTicker,
  Tick,
  TickKind,
  Trade,
} from './ground-truth.ts';

export const BYBIT_EXCHANGE = 'bybit';

/** Topic prefix (= Tardis channel) -> ground-truth kind. */
export const BYBIT_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  publicTrade: 'trade',
  'orderbook.1': 'bookTicker',
  'orderbook.50': 'bookChange',
  tickers: 'derivativeTicker',
  allLiquidation: 'liquidation',
};

/** Topic prefix of each kind. */
const CHANNEL_OF: Readonly<Record<TickKind, string>> = {
  trade: 'publicTrade',
  bookTicker: 'orderbook.1',
  bookChange: 'orderbook.50',
  derivativeTicker: 'tickers',
  liquidation: 'allLiquidation',
};

/** Levels per side of an `orderbook.50` snapshot. */
export const BYBIT_BOOK_DEPTH = 50;

/** `seq` of an update = its ground-truth update id + this: the two numbers differ, as on Bybit. */
export const BYBIT_SEQ_OFFSET = 10_000_000_000;

/** A symbol of Bybit's linear shape (upper case): BASE then USDT, or BASE then PERP. Listing is elsewhere. */
export function isBybitLinearSymbol(value: string): boolean {
  return /^[A-Z0-9]{1,25}(USDT|PERP)$/.test(value);
}

/** `orderbook.50.BTCUSDT` for ('bookChange', 'btcusdt'). */
export function bybitTopic(kind: TickKind, symbol: string): string {
  return `${CHANNEL_OF[kind]}.${symbol.toUpperCase()}`;
}

/** Splits `orderbook.50.BTCUSDT` into its channel (`orderbook.50`) and its symbol, as sent (upper case). */
export function parseBybitTopic(topic: string): { channel: string; symbol: string } | undefined {
  const dot = topic.lastIndexOf('.');
  if (dot <= 0 || dot === topic.length - 1) return undefined;
  return { channel: topic.slice(0, dot), symbol: topic.slice(dot + 1) };
}

/** `seq` of the update with ground-truth id `updateId`. */
export function bybitSeq(updateId: number): number {
  return BYBIT_SEQ_OFFSET + updateId;
}

const hex = (value: number, digits: number): string =>
  (value >>> 0).toString(16).padStart(8, '0').slice(-digits);

/** A trade's Bybit id: a UUID (version 5 layout) seeded by the trade, ending in its ground-truth id. */
export function bybitTradeId(trade: Pick<Trade, 'id' | 'nonce'>): string {
  const tail = trade.id.toString(16).padStart(12, '0');
  const n = trade.nonce >>> 0;
  const variant = (8 + (n & 3)).toString(16);
  return `${hex(n, 8)}-${hex(n >>> 8, 4)}-5${hex(n >>> 4, 3)}-${variant}${hex(n >>> 12, 3)}-${tail}`;
}

/** The ground-truth trade id in a Bybit trade id made by bybitTradeId, or undefined. */
export function groundTruthTradeId(id: string): number | undefined {
  const tail = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-([0-9a-f]{12})$/.exec(id)?.[1];
  return tail === undefined ? undefined : Number.parseInt(tail, 16);
}

export interface BybitTradeMessage {
  topic: string;
  type: 'snapshot';
  ts: number;
  data: { T: number; s: string; S: 'Buy' | 'Sell'; v: string; p: string; L: string; i: string; BT: false }[];
}

export interface BybitBookMessage {
  topic: string;
  type: 'snapshot' | 'delta';
  ts: number;
  data: { s: string; b: BookLevel[]; a: BookLevel[]; u: number; seq: number };
  cts: number;
}

const TICK_DIRECTIONS = ['PlusTick', 'ZeroPlusTick', 'MinusTick', 'ZeroMinusTick'] as const;

/** The message of a push topic (`publicTrade`, `allLiquidation`): one entry a tick, stamped with its time. */
function pushMessage<E>(
  kind: TickKind,
  tick: Tick,
  entry: E,
): { topic: string; type: 'snapshot'; ts: number; data: E[] } {
  return { topic: bybitTopic(kind, tick.symbol), type: 'snapshot', ts: tick.timestamp, data: [entry] };
}

/** A trade as a `publicTrade` message. A buyer-maker trade was a sell aggressor: `S` is `Sell`. */
export function bybitTrade(trade: Trade): BybitTradeMessage {
  return pushMessage('trade', trade, {
    T: trade.timestamp,
    s: trade.symbol.toUpperCase(),
    S: trade.isBuyerMaker ? 'Sell' : 'Buy',
    v: trade.qty,
    p: trade.price,
    L: TICK_DIRECTIONS[trade.nonce & 3]!,
    i: bybitTradeId(trade),
    BT: false,
  });
}

/**
 * A best bid/ask as an `orderbook.1` message. A connection's first one for a symbol is a `snapshot`, the
 * rest `delta`s; each carries both sides' best level, so a delta alone is the whole top of book.
 */
export function bybitQuote(quote: BookTicker, type: 'snapshot' | 'delta'): BybitBookMessage {
  return {
    topic: bybitTopic('bookTicker', quote.symbol),
    type,
    ts: quote.timestamp,
    data: {
      s: quote.symbol.toUpperCase(),
      b: [[quote.bidPrice, quote.bidQty]],
      a: [[quote.askPrice, quote.askQty]],
      u: quote.updateId,
      seq: bybitSeq(quote.updateId),
    },
    cts: quote.timestamp,
  };
}

/** An order book update as an `orderbook.50` delta (changed levels; size "0" removes one). */
export function bybitBookDelta(change: BookChange): BybitBookMessage {
  return {
    topic: bybitTopic('bookChange', change.symbol),
    type: 'delta',
    ts: change.timestamp,
    data: {
      s: change.symbol.toUpperCase(),
      b: [...change.bids],
      a: [...change.asks],
      u: change.updateId,
      seq: bybitSeq(change.updateId),
    },
    cts: change.timestamp,
  };
}

/**
 * The `orderbook.50` snapshot of a ground-truth book (every update with id <= lastUpdateId), stamped `at`
 * (epoch ms: tardis-dev takes `ts` as the snapshot's exchange time). Bybit sends one after a subscribe.
 */
export function bybitBookSnapshot(book: BookSnapshot, at: number): BybitBookMessage {
  return {
    topic: bybitTopic('bookChange', book.symbol),
    type: 'snapshot',
    ts: at,
    data: {
      s: book.symbol.toUpperCase(),
      b: book.bids.slice(0, BYBIT_BOOK_DEPTH),
      a: book.asks.slice(0, BYBIT_BOOK_DEPTH),
      u: book.lastUpdateId,
      seq: bybitSeq(book.lastUpdateId),
    },
    cts: at,
  };
}

/** A `tickers` message's fields, all as text (Bybit sends numbers as strings). */
type TickerFields = Record<string, string>;

export interface BybitTickerMessage {
  topic: string;
  type: 'snapshot' | 'delta';
  data: TickerFields;
  cs: number;
  ts: number;
}

export interface BybitLiquidationMessage {
  topic: string;
  type: 'snapshot';
  ts: number;
  data: { T: number; s: string; S: 'Buy' | 'Sell'; v: string; p: string }[];
}

/**
 * A perpetual's ticker as a `tickers` message. A connection's first one for a symbol is a `snapshot` with
 * the day's statistics too; a `delta` carries the fields tardis-dev reads (every one changes at every ground-
 * truth tick). Bybit sends no predicted funding rate; `cs` is the update id plus BYBIT_SEQ_OFFSET.
 */
export function bybitTicker(ticker: DerivativeTicker, type: 'snapshot' | 'delta'): BybitTickerMessage {
  const fields: TickerFields = {
    symbol: ticker.symbol.toUpperCase(),
    lastPrice: ticker.lastPrice,
    markPrice: ticker.markPrice,
    indexPrice: ticker.indexPrice,
    openInterest: ticker.openInterest,
    nextFundingTime: String(ticker.fundingTime),
    fundingRate: ticker.fundingRate,
  };
  const data: TickerFields =
    type === 'delta'
      ? fields
      : {
          ...fields,
          tickDirection: 'ZeroPlusTick',
          prevPrice24h: ticker.lastPrice,
          highPrice24h: ticker.lastPrice,
          lowPrice24h: ticker.lastPrice,
          price24hPcnt: '0',
        };
  return {
    topic: bybitTopic('derivativeTicker', ticker.symbol),
    type,
    data,
    cs: bybitSeq(ticker.updateId),
    ts: ticker.timestamp,
  };
}

/**
 * A liquidation as an `allLiquidation` message. `S` is the side of the liquidated position: `Buy` when a
 * long was liquidated, i.e. by a sell order (ground-truth side `sell`). Bybit sends no liquidation id.
 */
export function bybitLiquidation(liquidation: Liquidation): BybitLiquidationMessage {
  return pushMessage('liquidation', liquidation, {
    T: liquidation.timestamp,
    s: liquidation.symbol.toUpperCase(),
    S: liquidation.side === 'sell' ? 'Buy' : 'Sell',
    v: liquidation.qty,
    p: liquidation.price,
  });
}

export type BybitMessage =
  | BybitTradeMessage
  | BybitBookMessage
  | BybitTickerMessage
  | BybitLiquidationMessage;

/** The message of a tick inside a stream: a quote or ticker as a delta (a stream opens with a snapshot). */
export function bybitMessage(tick: Tick): BybitMessage {
  switch (tick.kind) {
    case 'trade':
      return bybitTrade(tick);
    case 'bookTicker':
      return bybitQuote(tick, 'delta');
    case 'bookChange':
      return bybitBookDelta(tick);
    case 'derivativeTicker':
      return bybitTicker(tick, 'delta');
    case 'liquidation':
      return bybitLiquidation(tick);
  }
}

/** The message of a stream's first tick on a connection or in a history slice: quotes and tickers snapshot. */
export function bybitOpeningMessage(tick: Tick): BybitMessage {
  if (tick.kind === 'bookTicker') return bybitQuote(tick, 'snapshot');
  if (tick.kind === 'derivativeTicker') return bybitTicker(tick, 'snapshot');
  return bybitMessage(tick);
}
