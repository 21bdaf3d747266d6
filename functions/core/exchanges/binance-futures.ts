import { BINANCE } from './binance.ts';
import type { ExchangeDescriptor, RawMessage } from './descriptor.ts';

/**
 * Binance USD-M futures (perpetuals `btcusdt`, quarterlies `btcusdt_250328`), on the same combined-stream
 * protocol as spot (fstream): it accepts any well-formed stream name and sends nothing for a symbol it does
 * not list; it refuses only a malformed one: `{"error":{"code":2,"msg":"Invalid request: ..."},"id":N}`.
 * Row ids: a trade by `t`, a quote by `u` (bookTicker's order book update id), a derivative ticker by the
 * channel and exchange time of the message that changed it (`markPrice:<E>`, `ticker:<E>`,
 * `openInterest:<time>`). A liquidation (`forceOrder`) carries no id: its row id hashes the exchange's own
 * time `T`, price, filled quantity and side, none of them a receive time, so live and history agree; two
 * liquidations alike in all four would collapse (Binance pushes at most one per symbol per second).
 */
/** `markPrice:1597536008000` for a `btcusdt@markPrice@1s` message with `E` 1597536008000; undefined without a time. */
function futuresEventKey(message: RawMessage): string | undefined {
  const channel = typeof message.stream === 'string' ? message.stream.split('@')[1] : undefined;
  const data = message.data as Record<string, unknown> | undefined;
  const time = data?.E ?? data?.time;
  if (channel === undefined || channel === '' || !Number.isSafeInteger(time)) return undefined;
  return `${channel}:${String(time)}`;
}

export const BINANCE_FUTURES: ExchangeDescriptor = {
  id: 'binance-futures',
  // Trade ids count every trade of a symbol. tardis-dev drops off-book trades (insurance fund, ADL), so one
  // of those shows as a jump; the gap-filler then finds nothing more in history and closes it as filled.
  contiguousTradeIds: true,
  symbol: {
    pattern: /^[a-z0-9]{2,30}(_\d{6})?$/,
    example: 'btcusdt',
    hint: 'letters and digits, a quarterly ending _YYMMDD',
  },
  channels: {
    trade: ['trade'],
    book_ticker: ['bookTicker'],
    // depthSnapshot: live, tardis-dev fetches it from /fapi/v1/depth per connection; in history, the recorder's.
    book_change: ['depth', 'depthSnapshot'],
    // openInterest: live, tardis-dev polls GET /fapi/v1/openInterest every 3 s; in history, the recorder's polls.
    derivative_ticker: ['markPrice', 'ticker', 'openInterest'],
    liquidation: ['forceOrder'],
  },
  // Spot's: `u` of `{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":185130926750,...}}`, and
  // the same `{"error":{"code":2,...}}` refusal.
  bookTickerUpdateId: BINANCE.bookTickerUpdateId,
  derivativeTickerEventKey: futuresEventKey,
  refusal: BINANCE.refusal,
  // USD-M allows 1024 streams and 10 messages/s; tardis-dev sends one SUBSCRIBE per channel with every symbol.
  maxStreamsPerConnection: 200,
};
