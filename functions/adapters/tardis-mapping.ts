import type { BookChange, BookTicker, Trade } from 'tardis-dev';
import { dateToMicros, type Tick } from '../core/tick.ts';

/** Maps a tardis-dev normalized message to a core tick (undefined for types tickstream does not record). */
export function fromTardis(message: { type: string }): Tick | undefined {
  switch (message.type) {
    case 'trade': {
      const m = message as Trade;
      return {
        type: 'trade',
        exchange: m.exchange,
        symbol: m.symbol.toLowerCase(),
        id: m.id,
        price: m.price,
        amount: m.amount,
        side: m.side,
        ts: dateToMicros(m.timestamp),
        localTs: dateToMicros(m.localTimestamp),
      };
    }
    case 'book_ticker': {
      const m = message as BookTicker;
      return {
        type: 'book_ticker',
        exchange: m.exchange,
        symbol: m.symbol.toLowerCase(),
        bidPrice: m.bidPrice,
        bidAmount: m.bidAmount,
        askPrice: m.askPrice,
        askAmount: m.askAmount,
        ts: dateToMicros(m.timestamp),
        localTs: dateToMicros(m.localTimestamp),
      };
    }
    case 'book_change': {
      const m = message as BookChange;
      return {
        type: 'book_change',
        exchange: m.exchange,
        symbol: m.symbol.toLowerCase(),
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
