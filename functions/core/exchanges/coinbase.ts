import type { ExchangeDescriptor } from './descriptor.ts';

/**
 * Coinbase Exchange. It refuses a well-formed product it does not list at subscribe time:
 * `{"type":"error","message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}`.
 */
export const COINBASE: ExchangeDescriptor = {
  id: 'coinbase',
  contiguousTradeIds: true,
  symbol: { pattern: /^[a-z0-9]{1,15}-[a-z0-9]{1,15}$/, example: 'btc-usd', hint: 'BASE-QUOTE' },
  channels: {
    trade: ['match'],
    book_ticker: ['ticker'],
    book_change: ['snapshot', 'l2update'],
  },
  // `{"type":"ticker","sequence":37475248783,...}`
  bookTickerUpdateId: (m) => m.sequence,
  refusal(body, configured) {
    if (body.type !== 'error') return undefined;
    const reason = typeof body.reason === 'string' ? body.reason : String(body.message ?? '');
    const product = /^(\S+) is not a valid product/i.exec(reason)?.[1]?.toLowerCase();
    if (product === undefined) return undefined;
    const named = configured.filter((s) => s === product);
    return { symbols: named.length > 0 ? named : [product], reason };
  },
  // No documented cap, but slow consumers are disconnected: kept small.
  maxStreamsPerConnection: 100,
};
