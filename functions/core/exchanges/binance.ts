import type { ExchangeInfo } from './descriptor.ts';

export const BINANCE: ExchangeInfo = {
  id: 'binance',
  contiguousTradeIds: true,
  symbol: { pattern: /^[a-z0-9]{2,30}$/, example: 'btcusdt', hint: 'letters and digits only' },
  dataTypes: ['trade', 'book_ticker', 'book_change'],
};
