import { BINANCE } from './binance.ts';
import { BINANCE_FUTURES } from './binance-futures.ts';
import { BYBIT } from './bybit.ts';
import { COINBASE } from './coinbase.ts';
import { DERIBIT } from './deribit.ts';
import { OKEX_SWAP } from './okex-swap.ts';
import type { ExchangeDescriptor } from './descriptor.ts';
import type { DataType } from '../model/streams.ts';

export type { ExchangeDescriptor, RawMessage, Refusal } from './descriptor.ts';

/** Exchanges tickstream records, by id: what the relay, the writer and the gap-filler know of each. */
export const EXCHANGES: Readonly<Record<string, ExchangeDescriptor>> = Object.freeze({
  binance: BINANCE,
  coinbase: COINBASE,
  'okex-swap': OKEX_SWAP,
  'binance-futures': BINANCE_FUTURES,
  bybit: BYBIT,
  deribit: DERIBIT,
});

export function isSupportedExchange(id: string): boolean {
  return Object.hasOwn(EXCHANGES, id);
}

/** The descriptor of exchange `id`, or undefined when tickstream does not record it. */
export function exchangeDescriptor(id: string): ExchangeDescriptor | undefined {
  return Object.hasOwn(EXCHANGES, id) ? EXCHANGES[id] : undefined;
}

/** Whether tickstream records data type `type` of a supported exchange. */
export function recordsDataType(exchange: ExchangeDescriptor, type: DataType): boolean {
  return Object.hasOwn(exchange.channels, type);
}

/**
 * Why `symbol` cannot be a symbol of `exchange` (a lower-cased symbol in the exchange's shape), or
 * undefined. The relay's stream list is checked with it.
 */
export function invalidSymbolReason(exchange: string, symbol: string): string | undefined {
  const descriptor = exchangeDescriptor(exchange);
  if (descriptor === undefined) return `unknown exchange "${exchange}"`;
  if (descriptor.symbol.pattern.test(symbol)) return undefined;
  const { hint, example } = descriptor.symbol;
  return `"${symbol}" is not a ${exchange} symbol (${hint}, e.g. ${example})`;
}
