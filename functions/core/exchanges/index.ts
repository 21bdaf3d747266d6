import { BINANCE } from './binance.ts';
import { COINBASE } from './coinbase.ts';
import type { ExchangeInfo } from './descriptor.ts';

export type { ExchangeInfo } from './descriptor.ts';

/** Exchanges tickstream records, with what the relay and the gap-filler need to know about each. */
export const EXCHANGES: Readonly<Record<string, ExchangeInfo>> = Object.freeze({
  binance: BINANCE,
  coinbase: COINBASE,
});

export function isSupportedExchange(id: string): boolean {
  return Object.hasOwn(EXCHANGES, id);
}
