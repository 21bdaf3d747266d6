import {
  normalizeBookChanges,
  normalizeBookTickers,
  normalizeDerivativeTickers,
  normalizeLiquidations,
  normalizeTrades,
  type Exchange,
  type MapperFactory,
  type NormalizedData,
} from 'tardis-dev';
import type { DataType } from '../../core/model/streams.ts';
import { okexSwapLiquidations } from './okex-swap-liquidations.ts';

export type AnyMapperFactory = MapperFactory<Exchange, NormalizedData>;

/** tardis-dev's own normalizer of each data type, as shipped. */
export const STOCK_NORMALIZERS: Readonly<Record<DataType, AnyMapperFactory>> = Object.freeze({
  trade: normalizeTrades as unknown as AnyMapperFactory,
  book_ticker: normalizeBookTickers as unknown as AnyMapperFactory,
  book_change: normalizeBookChanges as unknown as AnyMapperFactory,
  derivative_ticker: normalizeDerivativeTickers as unknown as AnyMapperFactory,
  liquidation: normalizeLiquidations as unknown as AnyMapperFactory,
});

/**
 * tardis-dev's part of an exchange (its pure part is its descriptor, core/exchanges/). The exchange's id
 * is tardis-dev's name for it: a normalized tick carries that name as its exchange.
 */
export interface TardisExchange {
  /** The normalizer of each data type the descriptor has channels for. */
  readonly normalizers: Readonly<Partial<Record<DataType, AnyMapperFactory>>>;
}

/** One entry per exchange of core/exchanges/index.ts. tardis-dev's stock normalizers serve both. */
export const TARDIS_EXCHANGES: Readonly<Record<string, TardisExchange>> = Object.freeze({
  binance: { normalizers: STOCK_NORMALIZERS },
  coinbase: { normalizers: STOCK_NORMALIZERS },
  'okex-swap': { normalizers: { ...STOCK_NORMALIZERS, liquidation: okexSwapLiquidations } },
  'binance-futures': { normalizers: STOCK_NORMALIZERS },
  bybit: { normalizers: STOCK_NORMALIZERS },
  deribit: { normalizers: STOCK_NORMALIZERS },
});

/** tardis-dev's normalizer of `type` on `exchange`; throws for an exchange or type without one. */
export function tardisNormalizer(exchange: string, type: DataType): AnyMapperFactory {
  const normalizer = Object.hasOwn(TARDIS_EXCHANGES, exchange)
    ? TARDIS_EXCHANGES[exchange]!.normalizers[type]
    : undefined;
  if (normalizer === undefined) throw new Error(`no tardis-dev normalizer for ${exchange} ${type}`);
  return normalizer;
}
