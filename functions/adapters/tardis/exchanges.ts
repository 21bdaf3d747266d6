import {
  normalizeBookChanges,
  normalizeBookTickers,
  normalizeTrades,
  type Exchange,
  type MapperFactory,
  type NormalizedData,
} from 'tardis-dev';
import type { DataType } from '../../core/model/streams.ts';

export type AnyMapperFactory = MapperFactory<Exchange, NormalizedData>;

/** tardis-dev's own normalizer of each data type, as shipped. */
export const STOCK_NORMALIZERS: Readonly<Record<DataType, AnyMapperFactory>> = Object.freeze({
  trade: normalizeTrades as unknown as AnyMapperFactory,
  book_ticker: normalizeBookTickers as unknown as AnyMapperFactory,
  book_change: normalizeBookChanges as unknown as AnyMapperFactory,
});
