import type { BookChange, BookTicker, DerivativeTicker, Liquidation, Trade } from 'tardis-dev';
import { dateToMicros, type DerivativeTickerTick, type QuoteTick, type Tick } from '../../core/model/tick.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Lower-cased symbols by exchange spelling: one small map instead of a new string per tick. */
const lowerCase = new Map<string, string>();
function lower(symbol: string): string {
  let out = lowerCase.get(symbol);
  if (out === undefined) {
    out = symbol.toLowerCase();
    if (lowerCase.size < 100_000) lowerCase.set(symbol, out);
  }
  return out;
}

/**
 * Maps a tardis-dev normalized message to a core tick (undefined for types tickstream does not record).
 * `key` is the exchange key read from the raw message: a book ticker's `updateId` or a derivative ticker's
 * `eventKey`; without it, the one TICK_NORMALIZERS set on the message (normalizers.ts).
 * One small function per type, so the relay's two hot ones stay cheap to call: see docs/PERFORMANCE.md.
 */
export function fromTardis(message: { type: string }, key?: string | number): Tick | undefined {
  switch (message.type) {
    case 'trade':
      return tradeFrom(message as Trade);
    case 'book_ticker': {
      const quote = message as BookTicker & { updateId?: string | number };
      return quoteFrom(quote, key ?? quote.updateId);
    }
    case 'book_change':
      return bookChangeFrom(message as BookChange);
    case 'derivative_ticker': {
      const ticker = message as DerivativeTicker & { eventKey?: string };
      return derivativeTickerFrom(ticker, key === undefined ? ticker.eventKey : String(key));
    }
    case 'liquidation':
      return liquidationFrom(message as Liquidation);
    default:
      return undefined;
  }
}

function tradeFrom(m: Trade): Tick {
  return {
    type: 'trade',
    exchange: m.exchange,
    symbol: lower(m.symbol),
    id: m.id,
    price: m.price,
    amount: m.amount,
    side: m.side,
    ts: dateToMicros(m.timestamp),
    localTs: dateToMicros(m.localTimestamp),
  };
}

function quoteFrom(m: BookTicker, updateId: string | number | undefined): Tick {
  const quote: Mutable<QuoteTick> = {
    type: 'book_ticker',
    exchange: m.exchange,
    symbol: lower(m.symbol),
    bidPrice: m.bidPrice,
    bidAmount: m.bidAmount,
    askPrice: m.askPrice,
    askAmount: m.askAmount,
    ts: dateToMicros(m.timestamp),
    localTs: dateToMicros(m.localTimestamp),
  };
  if (updateId !== undefined) quote.updateId = updateId;
  return quote;
}

function bookChangeFrom(m: BookChange): Tick {
  return {
    type: 'book_change',
    exchange: m.exchange,
    symbol: lower(m.symbol),
    isSnapshot: m.isSnapshot,
    bids: m.bids,
    asks: m.asks,
    ts: dateToMicros(m.timestamp),
    localTs: dateToMicros(m.localTimestamp),
  };
}

function derivativeTickerFrom(m: DerivativeTicker, eventKey: string | undefined): Tick {
  const ticker: Mutable<DerivativeTickerTick> = {
    type: 'derivative_ticker',
    exchange: m.exchange,
    symbol: lower(m.symbol),
    lastPrice: m.lastPrice,
    openInterest: m.openInterest,
    fundingRate: m.fundingRate,
    fundingTs: m.fundingTimestamp === undefined ? undefined : dateToMicros(m.fundingTimestamp),
    predictedFundingRate: m.predictedFundingRate,
    indexPrice: m.indexPrice,
    markPrice: m.markPrice,
    ts: dateToMicros(m.timestamp),
    localTs: dateToMicros(m.localTimestamp),
  };
  if (eventKey !== undefined) ticker.eventKey = eventKey;
  return ticker;
}

function liquidationFrom(m: Liquidation): Tick {
  return {
    type: 'liquidation',
    exchange: m.exchange,
    symbol: lower(m.symbol),
    // Some exchanges' ids are numbers in the raw message; the row id spells them as text either way.
    id: m.id === undefined || m.id === null ? undefined : String(m.id),
    price: m.price,
    amount: m.amount,
    side: m.side,
    ts: dateToMicros(m.timestamp),
    localTs: dateToMicros(m.localTimestamp),
  };
}
