import type { DataType } from './streams.ts';

/**
 * Exchanges tickstream records, with what the relay and the gap-filler need to know about each.
 * `contiguousTradeIds`: the exchange numbers trades 1, 2, 3... per symbol, so a jump in ids is a hole.
 * `symbol`: the shape of a symbol as tardis-dev's real-time feed takes it, lower-cased. The relay has no
 * exchange REST access at start, so this format check is what it can know offline; a well-formed symbol
 * the exchange does not list is refused by Coinbase at subscribe time (the relay then exits naming it),
 * while Binance accepts any stream name and simply sends nothing for it.
 */
export interface ExchangeInfo {
  readonly id: string;
  readonly contiguousTradeIds: boolean;
  readonly symbol: { readonly pattern: RegExp; readonly example: string; readonly hint: string };
  readonly dataTypes: readonly DataType[];
}

export const EXCHANGES: Readonly<Record<string, ExchangeInfo>> = Object.freeze({
  binance: {
    id: 'binance',
    contiguousTradeIds: true,
    symbol: { pattern: /^[a-z0-9]{2,30}$/, example: 'btcusdt', hint: 'letters and digits only' },
    dataTypes: ['trade', 'book_ticker', 'book_change'],
  },
  coinbase: {
    id: 'coinbase',
    contiguousTradeIds: true,
    symbol: { pattern: /^[a-z0-9]{1,15}-[a-z0-9]{1,15}$/, example: 'btc-usd', hint: 'BASE-QUOTE' },
    dataTypes: ['trade', 'book_ticker', 'book_change'],
  },
});

export function isSupportedExchange(id: string): boolean {
  return Object.hasOwn(EXCHANGES, id);
}
