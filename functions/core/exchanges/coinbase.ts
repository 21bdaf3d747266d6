import type { ExchangeInfo } from './descriptor.ts';

export const COINBASE: ExchangeInfo = {
  id: 'coinbase',
  contiguousTradeIds: true,
  symbol: { pattern: /^[a-z0-9]{1,15}-[a-z0-9]{1,15}$/, example: 'btc-usd', hint: 'BASE-QUOTE' },
  dataTypes: ['trade', 'book_ticker', 'book_change'],
};
