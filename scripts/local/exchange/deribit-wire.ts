/**
 * Deribit's JSON-RPC 2.0 websocket wire of ground-truth ticks, as wss://streams.deribit.com/ws/api/v2 pushes
 * them and as Tardis.dev stores them (exchange `deribit`; a Tardis channel is the channel name's first part).
 * Pure. Shapes follow tardis-node 13.35.3's mapper fixtures: `{"jsonrpc":"2.0","method":"subscription",
 * "params":{"channel":"trades.BTC-PERPETUAL.raw","data":[{"trade_seq":..,"trade_id":"39355898",
 * "timestamp":..,"tick_direction":2,"price":9598.5,"instrument_name":"BTC-PERPETUAL","index_price":..,
 * "direction":"sell","amount":2000.0}]}}`, `book.<I>.raw` with `[action, price, amount]` levels and
 * `change_id`/`prev_change_id`, and `ticker.<I>.raw` with best bid/ask, mark, index, funding and open interest.
 *
 * One channel, two types. The ground truth has one kind per channel, so the second type a channel carries is
 * derived from the first kind's tick, the same way live and in history: a `ticker` push is a quote
 * (bookTicker) whose mark, index, funding and open interest are functions of it (deribitTickerFields), and a
 * trade is a liquidation when its seed says so (deribitLiquidation). The ground truth's own derivativeTicker
 * and liquidation kinds are not played on this wire.
 *
 * Simplifications: one trade per `trades` message (Deribit batches the fills of one order); `trade_id` is
 * the ground-truth id as text and `trade_seq` equals it (on Deribit trade ids are shared by every instrument
 * of a currency); `change_id` is the ground-truth update id, so `prev_change_id` is the id before it; a
 * changed level is `change` and a removed one `delete` (tardis-dev reads neither action apart from delete).
 */
import {
  formatUnits,
  type BookChange,
  type BookLevel,
  type BookSnapshot,
  type BookTicker,
  type Tick,
  type TickKind,
  type Trade,
} from './ground-truth.ts';

export const DERIBIT_EXCHANGE = 'deribit';

/** Tardis channel (the channel name's first part) -> the ground-truth kind that drives it. */
export const DERIBIT_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  trades: 'trade',
  ticker: 'bookTicker',
  book: 'bookChange',
};

/** The interval suffix Tardis's recorder subscribed with (it has API credentials). */
export const DERIBIT_HISTORY_INTERVAL = 'raw';

/** A perpetual as Deribit names it: `BTC-PERPETUAL`, `SOL_USDC-PERPETUAL`. Listing is elsewhere. */
export function isDeribitPerpetual(value: string): boolean {
  return /^[A-Z0-9]{1,10}(_[A-Z0-9]{1,10})?-PERPETUAL$/.test(value);
}

/** `book.BTC-PERPETUAL.100ms` -> its parts; undefined when it is not `<channel>.<INSTRUMENT>.<interval>`. */
export function parseDeribitChannel(
  name: string,
): { channel: string; instrument: string; interval: string } | undefined {
  const parts = name.split('.');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) return undefined;
  return { channel: parts[0]!, instrument: parts[1]!, interval: parts[2]! };
}

/** The channel name of a kind's tick for `symbol` (lower case) at `interval`. */
export function deribitChannelName(channel: string, symbol: string, interval: string): string {
  return `${channel}.${symbol.toUpperCase()}.${interval}`;
}

export interface DeribitNotification<D> {
  jsonrpc: '2.0';
  method: 'subscription';
  params: { channel: string; data: D };
}

const notification = <D>(channel: string, data: D): DeribitNotification<D> => ({
  jsonrpc: '2.0',
  method: 'subscription',
  params: { channel, data },
});

/** Integer units of a decimal string at `decimals` places ("37000.1", 2 -> 3700010). */
function unitsOf(text: string, decimals: number): number {
  const [whole = '0', fraction = ''] = text.split('.');
  return Number(whole) * 10 ** decimals + Number(fraction.padEnd(decimals, '0').slice(0, decimals) || '0');
}

const decimalsOf = (text: string): number => text.split('.')[1]?.length ?? 0;

/** Whether a trade was a liquidation, and whose: about one trade in 32 (`T` taker, `M` maker, `MT` both). */
export function deribitLiquidation(trade: Pick<Trade, 'nonce'>): 'T' | 'M' | 'MT' | undefined {
  const n = trade.nonce >>> 0;
  if (n % 32 !== 0) return undefined;
  return (['T', 'M', 'MT'] as const)[(n >>> 5) % 3];
}

export interface DeribitTrade {
  trade_seq: number;
  trade_id: string;
  timestamp: number;
  tick_direction: number;
  price: number;
  mark_price: number;
  instrument_name: string;
  index_price: number;
  direction: 'buy' | 'sell';
  amount: number;
  liquidation?: 'T' | 'M' | 'MT';
}

/** A trade as a `trades` notification; a buyer-maker trade was a sell aggressor (`direction` sell). */
export function deribitTrade(trade: Trade, channel: string): DeribitNotification<DeribitTrade[]> {
  const price = Number(trade.price);
  const liquidation = deribitLiquidation(trade);
  return notification(channel, [
    {
      trade_seq: trade.id,
      trade_id: String(trade.id),
      timestamp: trade.timestamp,
      tick_direction: trade.nonce & 3,
      price,
      mark_price: price,
      instrument_name: trade.symbol.toUpperCase(),
      index_price: price,
      direction: trade.isBuyerMaker ? 'sell' : 'buy',
      amount: Number(trade.qty),
      ...(liquidation === undefined ? {} : { liquidation }),
    },
  ]);
}

/**
 * The derivatives half of a quote's `ticker` push, a function of the quote alone (so history and live
 * agree): mark half way between bid and ask, index a seeded step off it, funding a seeded signed rate.
 * Open interest's lowest digit alternates with the update id, so consecutive pushes always differ and
 * tardis-dev's derivative ticker, which emits on a change only, emits one per push on both paths.
 */
export function deribitTickerFields(quote: BookTicker): Record<string, number> {
  const d = Math.max(decimalsOf(quote.bidPrice), decimalsOf(quote.askPrice)) + 1;
  const mark = (unitsOf(quote.bidPrice, d) + unitsOf(quote.askPrice, d)) / 2;
  const n = quote.nonce >>> 0;
  const step = 10 ** (d - 1);
  const funding = ((n >>> 3) % 4001) - 1000; // -0.00001 to 0.00003 per 8 h, in 1e-8
  const openInterest = 50_000_000 + ((n >>> 7) % 1_000_000);
  return {
    mark_price: Number(formatUnits(Math.round(mark), d)),
    index_price: Number(formatUnits(Math.round(mark) + ((n % 5) - 2) * step, d)),
    last_price: Number(n & 1 ? quote.askPrice : quote.bidPrice),
    current_funding: funding / 1e8,
    funding_8h: (funding * 3) / 1e8,
    open_interest: openInterest - (openInterest % 2) + (quote.updateId % 2),
  };
}

/** A quote as a `ticker` notification: best bid/ask with the day's statistics and the derivative fields. */
export function deribitTicker(
  quote: BookTicker,
  channel: string,
): DeribitNotification<Record<string, unknown>> {
  const fields = deribitTickerFields(quote);
  return notification(channel, {
    timestamp: quote.timestamp,
    stats: { volume: 24618.46, low: fields.last_price, high: fields.last_price },
    state: 'open',
    settlement_price: fields.mark_price,
    open_interest: fields.open_interest,
    min_price: fields.mark_price! * 0.97,
    max_price: fields.mark_price! * 1.03,
    mark_price: fields.mark_price,
    last_price: fields.last_price,
    instrument_name: quote.symbol.toUpperCase(),
    index_price: fields.index_price,
    funding_8h: fields.funding_8h,
    current_funding: fields.current_funding,
    best_bid_price: Number(quote.bidPrice),
    best_bid_amount: Number(quote.bidQty),
    best_ask_price: Number(quote.askPrice),
    best_ask_amount: Number(quote.askQty),
  });
}

type DeribitLevel = ['new' | 'change' | 'delete', number, number];

export interface DeribitBook {
  type: 'snapshot' | 'change';
  timestamp: number;
  prev_change_id?: number;
  instrument_name: string;
  change_id: number;
  bids: DeribitLevel[];
  asks: DeribitLevel[];
}

const level =
  (action: 'new' | 'change') =>
  ([price, size]: BookLevel): DeribitLevel =>
    Number(size) === 0 ? ['delete', Number(price), 0] : [action, Number(price), Number(size)];

/** An order book update as a `book` change, chained to the update before it by `prev_change_id`. */
export function deribitBookChange(change: BookChange, channel: string): DeribitNotification<DeribitBook> {
  return notification(channel, {
    type: 'change',
    timestamp: change.timestamp,
    prev_change_id: change.updateId - 1,
    instrument_name: change.symbol.toUpperCase(),
    change_id: change.updateId,
    bids: change.bids.map(level('change')),
    asks: change.asks.map(level('change')),
  });
}

/**
 * The whole book (every update with id <= lastUpdateId) as the `book` snapshot Deribit pushes first on a
 * subscription, stamped `at` (epoch ms). Its `change_id` is the next change's `prev_change_id`.
 */
export function deribitBookSnapshot(
  book: BookSnapshot,
  at: number,
  channel: string,
): DeribitNotification<DeribitBook> {
  return notification(channel, {
    type: 'snapshot',
    timestamp: at,
    instrument_name: book.symbol.toUpperCase(),
    change_id: book.lastUpdateId,
    bids: book.bids.map(level('new')),
    asks: book.asks.map(level('new')),
  });
}

/** The notification of a tick on the channel name `channel` (`trades.BTC-PERPETUAL.100ms`). */
export function deribitMessage(tick: Tick, channel: string): DeribitNotification<unknown> {
  switch (tick.kind) {
    case 'trade':
      return deribitTrade(tick, channel);
    case 'bookTicker':
      return deribitTicker(tick, channel);
    case 'bookChange':
      return deribitBookChange(tick, channel);
    default:
      throw new Error(`deribit carries no ${tick.kind} of its own (it is derived: deribit-wire.ts)`);
  }
}
