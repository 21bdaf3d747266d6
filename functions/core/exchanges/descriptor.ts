import type { DataType } from '../model/streams.ts';

/**
 * What tickstream knows about one exchange, apart from any client library.
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
