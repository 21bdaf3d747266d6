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
 */
export function fromTardis(message: { type: string }): Tick | undefined {
  switch (message.type) {
    case 'trade': {
      const m = message as Trade;
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
    case 'book_ticker': {
      const m = message as BookTicker & { updateId?: string | number };
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
    case 'book_change': {
      const m = message as BookChange;
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
    default:
      return undefined;
  }
}
