/**
 * Coinbase Exchange websocket wire format of ground-truth ticks, as the public feed
 * (wss://ws-feed.exchange.coinbase.com) sends them and as Tardis.dev stores them. Pure.
 *
 * tardis-dev 13.35.3 subscribes with `{"type":"subscribe","channels":[{"name":"matches","product_ids":
 * ["BTC-USD"]},{"name":"ticker","product_ids":[...]}]}` and normalizes `match` messages to trades
 * (id = `trade_id`, sequential per product) and `ticker` messages to book tickers (time = `time`).
 * Simplification: the real feed numbers `sequence` per product across all channels; here a match's
 * sequence is its trade id and a ticker's is its update id (index + 1), each strictly increasing.
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

export const COINBASE_EXCHANGE = 'coinbase';

/** Coinbase subscribe channel -> ground-truth kind. Other valid channels are accepted but carry no data. */
export const COINBASE_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  matches: 'trade',
  ticker: 'bookTicker',
  // tardis-dev subscribes level2_batch without credentials, level2 with them; both start with a snapshot.
  level2: 'bookChange',
  level2_batch: 'bookChange',
};

/** Channels Coinbase accepts without authentication that the simulator answers silently. */
export const COINBASE_SILENT_CHANNELS: readonly string[] = ['heartbeat', 'status', 'full'];

/**
 * Tardis.dev channel (= message type) -> ground-truth kind, for the history server's filters. A
 * `snapshot` filter selects the recorder's snapshots of the book, `l2update` the updates.
 */
export const COINBASE_TARDIS_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  match: 'trade',
  ticker: 'bookTicker',
  l2update: 'bookChange',
};

/** `BTC-USD` for 'btc-usd'. */
export function coinbaseProductId(symbol: string): string {
  return symbol.toUpperCase();
}

/** Whether a product id has Coinbase's shape (`BASE-QUOTE`, upper case); listing is checked elsewhere. */
export function isCoinbaseProductId(value: string): boolean {
  return /^[A-Z0-9]{1,15}-[A-Z0-9]{1,15}$/.test(value);
}

/** Coinbase time: ISO 8601 with microseconds, e.g. `2022-10-19T23:28:22.061769Z`. */
export function coinbaseTime(tick: Pick<Tick, 'timestamp' | 'nonce'>): string {
  const iso = new Date(tick.timestamp).toISOString();
  return `${iso.slice(0, 23)}${String(tick.nonce % 1000).padStart(3, '0')}Z`;
}

export interface CoinbaseMatch {
  type: 'match' | 'last_match';
  trade_id: number;
  maker_order_id: string;
  taker_order_id: string;
  side: 'buy' | 'sell';
  size: string;
  price: string;
  product_id: string;
  sequence: number;
  time: string;
}

export interface CoinbaseTicker {
  type: 'ticker';
  sequence: number;
  product_id: string;
  price: string;
  best_bid: string;
  best_bid_size: string;
  best_ask: string;
  best_ask_size: string;
  side: 'buy' | 'sell';
  time: string;
  trade_id: number;
  last_size: string;
}

function orderId(tick: Tick, salt: number): string {
  const hex = ((tick.nonce ^ salt) >>> 0).toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${String(tick.index).padStart(12, '0').slice(-12)}`;
}

/**
 * A trade as a `match` message. `side` is the maker's side: a buyer-maker trade (a sell aggressor,
 * tardis side 'sell') has side 'buy'.
 */
export function coinbaseMatch(trade: Trade, type: 'match' | 'last_match' = 'match'): CoinbaseMatch {
  return {
    type,
    trade_id: trade.id,
    maker_order_id: orderId(trade, 0x5a5a5a5a),
    taker_order_id: orderId(trade, 0x3c3c3c3c),
    side: trade.isBuyerMaker ? 'buy' : 'sell',
    size: trade.qty,
    price: trade.price,
    product_id: coinbaseProductId(trade.symbol),
    sequence: trade.id,
    time: coinbaseTime(trade),
  };
}

/** A best bid/ask update as a `ticker` message; `sequence` is the update id. */
export function coinbaseTicker(quote: BookTicker): CoinbaseTicker {
  return {
    type: 'ticker',
    sequence: quote.updateId,
    product_id: coinbaseProductId(quote.symbol),
    price: quote.bidPrice,
    best_bid: quote.bidPrice,
    best_bid_size: quote.bidQty,
    best_ask: quote.askPrice,
    best_ask_size: quote.askQty,
    side: (quote.nonce & 1) === 1 ? 'buy' : 'sell',
    time: coinbaseTime(quote),
    trade_id: 0,
    last_size: '0',
  };
}

export interface CoinbaseL2Update {
  type: 'l2update';
  product_id: string;
  /** [side, price, size]; size "0" removes the level. */
  changes: [side: 'buy' | 'sell', price: string, size: string][];
  time: string;
}

export interface CoinbaseL2Snapshot {
  type: 'snapshot';
  product_id: string;
  bids: BookLevel[];
  asks: BookLevel[];
  time: string;
}

/** An order book update as an `l2update` (bids first, then asks, best first). */
export function coinbaseL2Update(change: BookChange): CoinbaseL2Update {
  return {
    type: 'l2update',
    product_id: coinbaseProductId(change.symbol),
    changes: [
      ...change.bids.map(([p, q]) => ['buy', p, q] as ['buy', string, string]),
      ...change.asks.map(([p, q]) => ['sell', p, q] as ['sell', string, string]),
    ],
    time: coinbaseTime(change),
  };
}

/**
 * The level2 `snapshot` of a ground-truth book, stamped `at` (epoch ms, whole milliseconds: tardis-dev
 * takes it as the snapshot's exchange time).
 */
export function coinbaseL2Snapshot(book: BookSnapshot, at: number): CoinbaseL2Snapshot {
  return {
    type: 'snapshot',
    product_id: coinbaseProductId(book.symbol),
    bids: [...book.bids],
    asks: [...book.asks],
    time: coinbaseTime({ timestamp: at, nonce: 0 }),
  };
}

/** The message the simulator sends and the history server stores for a tick. */
export function coinbaseMessage(tick: Tick): CoinbaseMatch | CoinbaseTicker | CoinbaseL2Update {
  switch (tick.kind) {
    case 'trade':
      return coinbaseMatch(tick);
    case 'bookTicker':
      return coinbaseTicker(tick);
    case 'bookChange':
      return coinbaseL2Update(tick);
    default:
      throw new Error(`coinbase has no ${tick.kind} channel`);
  }
}
