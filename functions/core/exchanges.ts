/**
 * Exchanges tickstream records, with what the relay and the gap-filler need to know about each.
 * `contiguousTradeIds`: the exchange numbers trades 1, 2, 3... per symbol, so a jump in ids is a hole.
 */
export interface ExchangeInfo {
  readonly id: string;
  readonly contiguousTradeIds: boolean;
}

export const EXCHANGES: Readonly<Record<string, ExchangeInfo>> = Object.freeze({
  binance: { id: 'binance', contiguousTradeIds: true },
  coinbase: { id: 'coinbase', contiguousTradeIds: true },
});

export function isSupportedExchange(id: string): boolean {
  return Object.hasOwn(EXCHANGES, id);
}
