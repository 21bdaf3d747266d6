import type { BookChange, BookTicker, Trade } from 'tardis-dev';
import { dateToMicros, type QuoteTick, type Tick } from '../core/tick.ts';

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
 * Book tickers carry `updateId` only when produced by TICK_NORMALIZERS (tardis-normalizers.ts).
 * One small function per type, so that the optimizer inlines the relay's two hot ones into its feed loop
 * (one function with all three cases was too large to inline, docs/PERFORMANCE.md).
 */
export function fromTardis(message: { type: string }): Tick | undefined {
  switch (message.type) {
    case 'trade':
      return tradeFrom(message as Trade);
    case 'book_ticker':
      return quoteFrom(message as BookTicker & { updateId?: string | number });
    case 'book_change':
      return bookChangeFrom(message as BookChange);
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

function quoteFrom(m: BookTicker & { updateId?: string | number }): Tick {
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
  if (m.updateId !== undefined) quote.updateId = m.updateId;
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
