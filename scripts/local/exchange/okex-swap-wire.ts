/**
 * OKX v5 public websocket wire format of ground-truth ticks for perpetual swaps (tardis-dev's `okex-swap`),
 * as `wss://ws.okx.com:8443/ws/v5/public` (and `/business` for `trades-all`) sends them and as Tardis.dev
 * stores them. Pure.
 *
 * tardis-dev 13.35.3 subscribes with `{"op":"subscribe","args":[{"channel":"bbo-tbt","instId":
 * "BTC-USDT-SWAP"},...]}`; OKX acknowledges each arg with `{"event":"subscribe","arg":{...},"connId":".."}`
 * and refuses an instrument it does not list with code 60018. Every data message is `{"arg":{"channel",
 * "instId"},"data":[...]}`, numbers as decimal strings, times as epoch milliseconds in strings.
 * Simplifications: a book level's order count is derived from the tick; books carry no `checksum`
 * (tardis-dev does not check it) and a quote's `seqId` is its ground-truth update id, independent of the
 * book's.
 */
import type { BookLevel, BookSnapshot, Tick, TickKind, TickOf } from './ground-truth.ts';

export const OKEX_SWAP_EXCHANGE = 'okex-swap';

/** Channel -> ground-truth kind on the live websocket, as tardis-dev subscribes without credentials. */
export const OKEX_SWAP_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  'trades-all': 'trade',
  'bbo-tbt': 'bookTicker',
  books: 'bookChange',
  tickers: 'derivativeTicker',
  'open-interest': 'derivativeTicker',
  'mark-price': 'derivativeTicker',
  'index-tickers': 'derivativeTicker',
  'funding-rate': 'derivativeTicker',
  'liquidation-orders': 'liquidation',
};

/**
 * Tardis channel -> ground-truth kind in history. tardis-dev asks for `trades-all` from 2023-10-19 (`trades`
 * before) and `books-l2-tbt` for replays older than 3 minutes (`books` for newer): the same messages.
 */
export const OKEX_SWAP_TARDIS_CHANNEL_KINDS: Readonly<Record<string, TickKind>> = {
  ...OKEX_SWAP_CHANNEL_KINDS,
  trades: 'trade',
  'books-l2-tbt': 'bookChange',
};

/** Public channels OKX accepts for a listed swap that the simulator answers without data. */
export const OKEX_SWAP_SILENT_CHANNELS: readonly string[] = [
  'price-limit',
  'books5',
  // Aggregated trades; the simulator sends every fill on `trades-all` only.
  'trades',
];

/** `BTC-USDT-SWAP` for 'btc-usdt-swap'. */
export function okexInstId(symbol: string): string {
  return symbol.toUpperCase();
}

/** Whether an instId has the shape of an OKX swap (`BASE-QUOTE-SWAP`); listing is checked elsewhere. */
export function isOkexSwapInstId(value: string): boolean {
  return /^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}-SWAP$/.test(value);
}

/** A subscription argument: a channel on one instrument (or, for `liquidation-orders`, one instType). */
export interface OkexArg {
  channel: string;
  instId?: string;
  instType?: string;
}

export interface OkexTrade {
  instId: string;
  tradeId: string;
  px: string;
  sz: string;
  /** The taker's side. */
  side: 'buy' | 'sell';
  ts: string;
}

/** `[price, size, "0" (deprecated liquidated orders), order count]`. */
export type OkexLevel = [price: string, size: string, liquidated: '0', orders: string];

export interface OkexBookData {
  asks: OkexLevel[];
  bids: OkexLevel[];
  ts: string;
  /** -1 on a snapshot; otherwise the seqId of the message before, so a jump is a lost update. */
  prevSeqId: number;
  seqId: number;
}

export interface OkexBbo {
  asks: OkexLevel[];
  bids: OkexLevel[];
  ts: string;
  seqId: number;
}

export interface OkexMessage<T> {
  arg: { channel: string; instId?: string; instType?: string };
  action?: 'snapshot' | 'update';
  data: T[];
}

/** A few orders behind a level, from the tick's seeded nonce; none behind a removed level. */
function level([price, size]: BookLevel, nonce: number): OkexLevel {
  return [price, size, '0', size === '0' ? '0' : String(1 + ((nonce >>> 3) % 7))];
}

/** A trade on `trades-all` (or `trades`). A buyer-maker trade has a selling taker. */
export function okexTrade(trade: TickOf<'trade'>, channel = 'trades-all'): OkexMessage<OkexTrade> {
  const instId = okexInstId(trade.symbol);
  return {
    arg: { channel, instId },
    data: [
      {
        instId,
        tradeId: String(trade.id),
        px: trade.price,
        sz: trade.qty,
        side: trade.isBuyerMaker ? 'sell' : 'buy',
        ts: String(trade.timestamp),
      },
    ],
  };
}

/** A best bid/ask change on `bbo-tbt`. */
export function okexBbo(quote: TickOf<'bookTicker'>): OkexMessage<OkexBbo> {
  return {
    arg: { channel: 'bbo-tbt', instId: okexInstId(quote.symbol) },
    data: [
      {
        asks: [level([quote.askPrice, quote.askQty], quote.nonce)],
        bids: [level([quote.bidPrice, quote.bidQty], quote.nonce >>> 8)],
        ts: String(quote.timestamp),
        seqId: quote.updateId,
      },
    ],
  };
}

/** An order book update on `books` (or `books-l2-tbt`): seqId is the update id, prevSeqId the one before. */
export function okexBookUpdate(change: TickOf<'bookChange'>, channel = 'books'): OkexMessage<OkexBookData> {
  return {
    arg: { channel, instId: okexInstId(change.symbol) },
    action: 'update',
    data: [
      {
        asks: change.asks.map((l, i) => level(l, change.nonce + i)),
        bids: change.bids.map((l, i) => level(l, change.nonce - i)),
        ts: String(change.timestamp),
        prevSeqId: change.updateId - 1,
        seqId: change.updateId,
      },
    ],
  };
}

/**
 * The book as the first message of a `books` subscription (and of a Tardis recorder's), stamped `at` (epoch
 * ms): every update with id <= lastUpdateId is in it.
 */
export function okexBookSnapshot(
  book: BookSnapshot,
  at: number,
  channel = 'books',
): OkexMessage<OkexBookData> {
  return {
    arg: { channel, instId: okexInstId(book.symbol) },
    action: 'snapshot',
    data: [
      {
        asks: book.asks.map((l, i) => level(l, at + i)),
        bids: book.bids.map((l, i) => level(l, at - i)),
        ts: String(at),
        prevSeqId: -1,
        seqId: book.lastUpdateId,
      },
    ],
  };
}

/** OKX's index of a swap, as tardis-dev derives it: `BTC-USDT` for `BTC-USDT-SWAP`, `BTC-USD` for USDC. */
export function okexIndexId(symbol: string): string {
  const [base, quote] = okexInstId(symbol).split('-');
  return `${base}-${quote === 'USDC' ? 'USD' : quote}`;
}

/** The swap whose ground truth an index follows here: `btc-usdt-swap` for `BTC-USDT`. */
export function okexSwapOfIndex(indexId: string): string {
  return `${indexId.toLowerCase()}-swap`;
}

/**
 * A ground-truth ticker on one of the five channels tardis-dev merges into a derivative ticker; each carries
 * its part of the state and the ticker's time (`ts`). `index-tickers` names the index, not the swap.
 */
export function okexTickerMessage(ticker: TickOf<'derivativeTicker'>, channel: string): OkexMessage<unknown> {
  const instId = okexInstId(ticker.symbol);
  const ts = String(ticker.timestamp);
  const swap = { instId, instType: 'SWAP' };
  switch (channel) {
    case 'index-tickers': {
      const index = okexIndexId(ticker.symbol);
      return { arg: { channel, instId: index }, data: [{ instId: index, idxPx: ticker.indexPrice, ts }] };
    }
    case 'mark-price':
      return { arg: { channel, instId }, data: [{ ...swap, markPx: ticker.markPrice, ts }] };
    case 'open-interest': {
      const oi = ticker.openInterest;
      return { arg: { channel, instId }, data: [{ ...swap, oi, oiCcy: oi, ts }] };
    }
    case 'funding-rate': {
      const funding = { fundingRate: ticker.fundingRate, fundingTime: String(ticker.fundingTime) };
      const next = { nextFundingRate: ticker.predictedFundingRate, method: 'next_period' };
      return { arg: { channel, instId }, data: [{ ...swap, ...funding, ...next, ts }] };
    }
    default:
      return {
        arg: { channel: 'tickers', instId },
        data: [{ ...swap, last: ticker.lastPrice, lastSz: '1', ts }],
      };
  }
}

/** The channels of a derivative ticker, in tardis-dev's subscription order. */
export const OKEX_SWAP_TICKER_CHANNELS = [
  'tickers',
  'open-interest',
  'mark-price',
  'index-tickers',
  'funding-rate',
];

/**
 * Liquidations on `liquidation-orders`, subscribed per instrument type: one entry per instrument, its
 * orders in `details` (OKX sends no order id). A forced sell closes a long position.
 */
export function okexLiquidations(liquidations: readonly TickOf<'liquidation'>[]): OkexMessage<unknown> {
  return {
    arg: { channel: 'liquidation-orders', instType: 'SWAP' } as OkexMessage<unknown>['arg'],
    data: liquidations.map((l) => ({
      details: [
        {
          bkLoss: '0',
          bkPx: l.price,
          ccy: '',
          posSide: l.side === 'sell' ? 'long' : 'short',
          side: l.side,
          sz: l.qty,
          ts: String(l.timestamp),
        },
      ],
      instFamily: okexIndexId(l.symbol),
      instId: okexInstId(l.symbol),
      instType: 'SWAP',
      uly: okexIndexId(l.symbol),
    })),
  };
}

/** The message the simulator sends and the history server stores for a tick, on `channel` of its kind. */
export function okexSwapMessage(tick: Tick, channel?: string): OkexMessage<unknown> {
  switch (tick.kind) {
    case 'trade':
      return okexTrade(tick, channel);
    case 'bookTicker':
      return okexBbo(tick);
    case 'bookChange':
      return okexBookUpdate(tick, channel);
    case 'derivativeTicker':
      return okexTickerMessage(tick, channel ?? 'tickers');
    case 'liquidation':
      return okexLiquidations([tick]);
  }
}

/** OKX's acknowledgement of one subscription argument. */
export function okexSubscribed(arg: OkexArg, connId: string): unknown {
  return { event: 'subscribe', arg, connId };
}

/** OKX's refusal of an instrument it does not list (as sent for each refused argument). */
export function okexUnknownInstrument(arg: OkexArg, connId: string): unknown {
  return {
    event: 'error',
    code: '60018',
    msg: `Wrong URL or channel:${arg.channel},instId:${arg.instId ?? ''} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`,
    connId,
  };
}

/** OKX's answer to a request it cannot parse. */
export function okexInvalidRequest(raw: string, connId: string): unknown {
  return { event: 'error', code: '60012', msg: `Invalid request: ${raw.slice(0, 200)}`, connId };
}
