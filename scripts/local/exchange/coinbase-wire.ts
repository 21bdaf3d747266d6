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
import type { BookTicker, Tick, TickKind, Trade } from './ground-truth.ts';

export const COINBASE_EXCHANGE = 'coinbase';

/** Coinbase subscribe channel -> ground-truth kind. Other valid channels are accepted but carry no data. */
export const COINBASE_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  matches: 'trade',
  ticker: 'bookTicker',
};

/** Channels Coinbase accepts without authentication that the simulator answers silently. */
export const COINBASE_SILENT_CHANNELS: readonly string[] = ['heartbeat', 'level2_batch', 'status', 'full'];

/** Tardis.dev channel (= message type) -> ground-truth kind, for the history server's filters. */
export const COINBASE_TARDIS_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  match: 'trade',
  ticker: 'bookTicker',
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
export function coinbaseTime(tick: Tick): string {
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

/** The message the simulator sends and the history server stores for a tick. */
export function coinbaseMessage(tick: Tick): CoinbaseMatch | CoinbaseTicker {
  return tick.kind === 'trade' ? coinbaseMatch(tick) : coinbaseTicker(tick);
}
