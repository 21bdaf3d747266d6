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

/**
 * tardis-dev's book ticker normalizer, plus `updateId` from the raw message. A class, not an object of
 * closures: the relay makes a mapper per connection, and new closures each time would leave the optimizer
 * no feedback to inline these calls with (docs/PERFORMANCE.md).
 */
class UpdateIdBookTickerMapper implements Mapper<Exchange, BookTickerWithUpdateId> {
  constructor(
    private readonly inner: Mapper<Exchange, BookTicker>,
    private readonly read: UpdateIdReader | undefined,
  ) {}
  canHandle(message: unknown): boolean {
    return this.inner.canHandle(message);
  }
  getFilters(symbols?: string[]): ReturnType<Mapper<Exchange, BookTicker>['getFilters']> {
    return this.inner.getFilters(symbols);
  }
  map(message: unknown, local: Date): IterableIterator<BookTickerWithUpdateId> | undefined {
    const mapped = this.inner.map(message, local);
    const updateId = updateIdOf(this.read, message);
    return mapped === undefined || updateId === undefined ? mapped : new Tagging(mapped, updateId);
  }
}

/** tardis-dev's book ticker normalizer, plus `updateId` from the raw message (live and history alike). */
export const normalizeBookTickersWithUpdateId = ((exchange: Exchange, localTimestamp: Date) =>
  new UpdateIdBookTickerMapper(
    (normalizeBookTickers as unknown as MapperFactory<Exchange, BookTicker>)(exchange, localTimestamp),
    Object.hasOwn(UPDATE_ID, exchange) ? UPDATE_ID[exchange] : undefined,
  )) as MapperFactory<Exchange, NormalizedData>;

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
