import {
  normalizeBookChanges,
  normalizeBookTickers,
  normalizeTrades,
  type BookTicker,
  type Exchange,
  type Mapper,
  type MapperFactory,
  type NormalizedData,
} from 'tardis-dev';
import type { DataType } from '../core/streams.ts';
import { isNumericUpdateId } from '../core/tick.ts';

/** A normalized book ticker with the exchange's update id, when the raw message has one. */
export type BookTickerWithUpdateId = BookTicker & { updateId?: string | number };

/**
 * Where each exchange puts the id of a best bid/ask update in its raw message. tardis-dev's normalized
 * book ticker drops it (and on Binance spot uses the local receive time as timestamp), so it is read
 * from the raw message here. Binance: `{"stream":"btcusdt@bookTicker","data":{"u":400900217,...}}`;
 * Coinbase ticker: `{"type":"ticker","sequence":37475248783,...}`.
 */
type UpdateIdReader = (message: Record<string, unknown>) => unknown;
const UPDATE_ID: Readonly<Record<string, UpdateIdReader>> = {
  binance: (m) => (m.data as Record<string, unknown> | undefined)?.u,
  coinbase: (m) => m.sequence,
};

/**
 * The update id as the exchange sent it: a number stays a number (not formatted as text here: the relay
 * sends it as a float64 column, and a row id spells it as `String` would), digits sent as text stay text.
 */
function updateIdOf(read: UpdateIdReader | undefined, message: unknown): string | number | undefined {
  if (read === undefined || typeof message !== 'object' || message === null) return undefined;
  const value = read(message as Record<string, unknown>);
  if (isNumericUpdateId(value)) return value;
  if (typeof value === 'string' && /^\d{1,30}$/.test(value)) return value;
  return undefined;
}

/** Sets `updateId` on each book ticker an inner mapper yields (a plain iterator: cheaper than a generator). */
class Tagging implements IterableIterator<BookTickerWithUpdateId> {
  constructor(
    private readonly inner: IterableIterator<BookTicker>,
    private readonly updateId: string | number,
  ) {}
  next(): IteratorResult<BookTickerWithUpdateId> {
    const result = this.inner.next();
    if (result.done !== true) (result.value as BookTickerWithUpdateId).updateId = this.updateId;
    return result;
  }
  [Symbol.iterator](): IterableIterator<BookTickerWithUpdateId> {
    return this;
  }
}

/** tardis-dev's book ticker normalizer, plus `updateId` from the raw message (live and history alike). */
export const normalizeBookTickersWithUpdateId = ((exchange: Exchange, localTimestamp: Date) => {
  const inner = (normalizeBookTickers as unknown as MapperFactory<Exchange, BookTicker>)(
    exchange,
    localTimestamp,
  );
  const read = Object.hasOwn(UPDATE_ID, exchange) ? UPDATE_ID[exchange] : undefined;
  const mapper: Mapper<Exchange, BookTickerWithUpdateId> = {
    canHandle: (message) => inner.canHandle(message),
    getFilters: (symbols) => inner.getFilters(symbols),
    map(message, local) {
      const mapped = inner.map(message, local);
      const updateId = updateIdOf(read, message);
      return mapped === undefined || updateId === undefined ? mapped : new Tagging(mapped, updateId);
    },
  };
  return mapper;
}) as MapperFactory<Exchange, NormalizedData>;

type AnyMapperFactory = MapperFactory<Exchange, NormalizedData>;

/**
 * The normalizer of each data type, for the live relay and for history replays alike: both must use
 * these so that a tick gets the same row id from either source.
 */
export const TICK_NORMALIZERS: Readonly<Record<DataType, AnyMapperFactory>> = Object.freeze({
  trade: normalizeTrades as unknown as AnyMapperFactory,
  book_ticker: normalizeBookTickersWithUpdateId,
  book_change: normalizeBookChanges as unknown as AnyMapperFactory,
});
