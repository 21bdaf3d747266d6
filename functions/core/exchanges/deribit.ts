import type { ExchangeDescriptor, RawMessage } from './descriptor.ts';

/** JSON-RPC 2.0 "Invalid params": the request itself is wrong, so sending it again cannot succeed. */
const INVALID_PARAMS = -32602;

/** `params.data` of a Deribit subscription notification, when it is an object. */
function notificationData(m: RawMessage): { channel: string; data: RawMessage } | undefined {
  const params = m.params as { channel?: unknown; data?: unknown } | undefined;
  if (typeof params?.channel !== 'string' || typeof params.data !== 'object' || params.data === null)
    return undefined;
  return { channel: params.channel, data: params.data as RawMessage };
}

/**
 * Deribit perpetuals (JSON-RPC 2.0 websocket `/ws/api/v2`), instruments like `BTC-PERPETUAL` and
 * `SOL_USDC-PERPETUAL`. One channel feeds two types: `ticker` carries the best bid/ask and the mark, index,
 * funding and open interest; `trades` carries every fill, a liquidation being a fill with a `liquidation`
 * field (`T` taker, `M` maker, `MT` both), so a liquidation is also a trade, as in Tardis's data.
 *
 * Row ids: a trade and a liquidation are keyed by `trade_id` (unique per currency, not contiguous per
 * instrument: fills of every instrument of the currency share one counter). A derivative ticker is keyed
 * by its message (`ticker:<timestamp>`); two pushes stamped in one millisecond would share it, which live
 * `.100ms` pushes cannot be and Tardis's `.raw` ones rarely are. Quotes have no update id in `ticker`, and
 * book changes are hashed like every exchange's: their content hash covers the exchange `timestamp` and the
 * numbers, which live and history carry alike.
 *
 * Deribit does not refuse an instrument it does not list: `public/subscribe` answers with the channels it
 * subscribed (`"result":[...]`) and leaves the others out, silently; such a stream shows only as a hole.
 */
export const DERIBIT: ExchangeDescriptor = {
  id: 'deribit',
  // trade_seq is contiguous per instrument, but the normalized trade keeps only trade_id (see above).
  contiguousTradeIds: false,
  // Perpetuals only: tardis-dev upper-cases them as Deribit names them (option strikes keep a lower `d`).
  symbol: {
    pattern: /^[a-z0-9]{1,10}(_[a-z0-9]{1,10})?-perpetual$/,
    example: 'btc-perpetual',
    hint: 'a Deribit perpetual: BASE-PERPETUAL, or BASE_QUOTE-PERPETUAL for a linear one',
  },
  // Live, tardis-dev subscribes `<channel>.<INSTRUMENT>.100ms` (`.raw` with API credentials); Tardis
  // stores the same channels by name.
  channels: {
    trade: ['trades'],
    book_ticker: ['ticker'],
    book_change: ['book'],
    derivative_ticker: ['ticker'],
    liquidation: ['trades'],
  },
  bookTickerUpdateId: () => undefined,
  // `{"method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.100ms","data":{"timestamp":..}}}`
  derivativeTickerEventKey(m) {
    const notification = notificationData(m);
    if (notification === undefined || !notification.channel.startsWith('ticker.')) return undefined;
    const { timestamp } = notification.data;
    return Number.isSafeInteger(timestamp) ? `ticker:${String(timestamp)}` : undefined;
  },
  // `{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Invalid params","data":{"param":"channels",
  // "reason":"..."}}}`: a malformed request is permanent; rate limits and other errors are not.
  refusal(body, configured) {
    const error = body.error as { code?: unknown; message?: unknown; data?: unknown } | undefined;
    if (error?.code !== INVALID_PARAMS) return undefined;
    const reason = `${String(error.message ?? 'Invalid params')} ${JSON.stringify(error.data ?? {})}`;
    const text = reason.toLowerCase();
    const named = configured.filter((s) => text.includes(s));
    return { symbols: named.length > 0 ? named : [...configured], reason };
  },
  // No documented cap per connection; one public/subscribe names every channel, kept short.
  maxStreamsPerConnection: 200,
};
