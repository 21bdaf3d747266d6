import type { ExchangeDescriptor, RawMessage } from './descriptor.ts';

/** The symbol each `<channel>.<SYMBOL>` topic of a Bybit answer names, lower-cased. */
function topicSymbols(text: string): string[] {
  const topics = /Invalid symbol\s*:\s*\[([^\]]*)\]/i.exec(text)?.[1] ?? /topic:(\S+)/.exec(text)?.[1] ?? '';
  return topics
    .split(/[,\s]+/)
    .map((topic) => topic.split('.').at(-1)?.toLowerCase() ?? '')
    .filter((symbol) => symbol.length > 0);
}

/**
 * Bybit linear perpetuals (v5 public websocket `/v5/public/linear`). Trade ids are UUIDs, so a hole in
 * trades shows only in coverage. A quote is keyed by `seq`, the matching engine's cross sequence: `u`
 * restarts at 1 when Bybit's websocket service restarts, so it is not an identity. A ticker is keyed by
 * its message (`tickers:<ts>`); a liquidation has no id, so its row id hashes symbol, time, price, size
 * and side, all the exchange's own values, the same live and in Tardis's copy. Bybit refuses a
 * subscribe naming a symbol it does not list, and with it the whole batch of topics:
 * `{"success":false,"ret_msg":"error:handler not found,topic:publicTrade.BTCXYZ","op":"subscribe",...}`.
 */
export const BYBIT: ExchangeDescriptor = {
  id: 'bybit',
  contiguousTradeIds: false,
  // tardis-dev opens the linear socket for symbols ending in USDT or PERP (USDC-settled), inverse otherwise.
  symbol: {
    pattern: /^[a-z0-9]{1,25}(usdt|perp)$/,
    example: 'btcusdt',
    hint: 'a linear perpetual: BASE then USDT, or BASE then PERP for USDC',
  },
  channels: {
    trade: ['publicTrade'],
    book_ticker: ['orderbook.1'],
    book_change: ['orderbook.50'],
    derivative_ticker: ['tickers'],
    // tardis-dev's live feed and its history from 2025-02-26 on; older history is in `liquidation`.
    liquidation: ['allLiquidation'],
  },
  // `{"topic":"orderbook.1.BTCUSDT","data":{"u":7003305,"seq":50193540681,...}}`
  bookTickerUpdateId: (m) => (m.data as RawMessage | undefined)?.seq,
  // `{"topic":"tickers.BTCUSDT","type":"delta","data":{...},"cs":50193544280,"ts":1680673821770}`: Bybit
  // pushes a symbol's ticker every 100 ms at most, so its time names the message.
  derivativeTickerEventKey: (m) =>
    typeof m.topic === 'string' && m.topic.startsWith('tickers.') && Number.isSafeInteger(m.ts)
      ? `tickers:${String(m.ts)}`
      : undefined,
  refusal(body, configured) {
    if (body.success !== false || body.op !== 'subscribe') return undefined;
    const reason = typeof body.ret_msg === 'string' ? body.ret_msg : 'subscribe refused';
    // Harmless, and gone on a new connection, which is what tardis-dev makes after any error.
    if (reason.includes('already subscribed')) return undefined;
    const named = topicSymbols(reason);
    const known = configured.filter((s) => named.includes(s));
    // A refused subscribe is permanent whatever it names: tardis-dev would send the same request again.
    return { symbols: known.length > 0 ? known : named.length > 0 ? named : configured, reason };
  },
  // Bybit caps a connection's topics by the length of their names (21,000 characters); 200 stays far below.
  maxStreamsPerConnection: 200,
};
