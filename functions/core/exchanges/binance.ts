import type { ExchangeDescriptor } from './descriptor.ts';

/**
 * Binance spot. It accepts any well-formed stream name and simply sends nothing for a symbol it does not
 * list; it refuses only a malformed one: `{"error":{"code":2,"msg":"Invalid request: ..."},"id":N}`.
 */
export const BINANCE: ExchangeDescriptor = {
  id: 'binance',
  contiguousTradeIds: true,
  symbol: { pattern: /^[a-z0-9]{2,30}$/, example: 'btcusdt', hint: 'letters and digits only' },
  channels: {
    trade: ['trade'],
    book_ticker: ['bookTicker'],
    // depthSnapshot: live, tardis-dev fetches it over REST per connection; in history, the recorder's.
    book_change: ['depth', 'depthSnapshot'],
  },
  // `{"stream":"btcusdt@bookTicker","data":{"u":400900217,...}}`
  bookTickerUpdateId: (m) => (m.data as Record<string, unknown> | undefined)?.u,
  refusal(body, configured) {
    const detail = body.error as { code?: unknown; msg?: unknown } | undefined;
    if (detail?.code !== 2) return undefined;
    return { symbols: configured, reason: String(detail.msg ?? 'invalid request') };
  },
  // Binance allows 1024; tardis-dev sends one SUBSCRIBE per channel naming every symbol, and long lists fail.
  maxStreamsPerConnection: 200,
};
