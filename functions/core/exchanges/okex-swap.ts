import type { ExchangeDescriptor } from './descriptor.ts';

/** `instId:BTC-XYZ-SWAP doesn't exist` in an OKX v5 error's `msg`. */
const UNKNOWN_INSTRUMENT = /instId:([A-Za-z0-9-]+) doesn't exist/;

/**
 * The index an OKX swap's `index-tickers` subscription names, as tardis-dev derives it: `btc-usdt` for
 * `btc-usdt-swap`, `btc-usd` for `btc-usdc-swap`.
 */
export function okexSwapIndex(symbol: string): string {
  const [base, quote] = symbol.split('-');
  return `${base}-${quote === 'usdc' ? 'usd' : quote}`;
}

/**
 * OKX perpetual swaps (v5 public websocket), instIds like `BTC-USDT-SWAP`. It refuses an instrument it does
 * not list, once per subscribed channel: `{"event":"error","code":"60018","msg":"Wrong URL or
 * channel:trades-all,instId:BTC-XYZ-SWAP doesn't exist. ..."}`; for `index-tickers` the instId is the index
 * (`BTC-XYZ`). tardis-dev ignores that error by default; adapters/tardis/okex-swap-refusals.ts lets it through.
 *
 * Row ids: a trade is keyed by `tradeId`; a derivative ticker by the channel and `ts` of the message that
 * changed it (`mark-price:1700000000000`). Quotes (`bbo-tbt`), book changes and liquidations (OKX sends no
 * order id) use the content hash: OKX's `seqId` restarts after maintenance, so it cannot name one quote
 * forever; the hash covers the exchange time `ts` and the numbers, which history and live carry alike.
 */
export const OKEX_SWAP: ExchangeDescriptor = {
  id: 'okex-swap',
  // OKX numbers trades per instrument but does not promise contiguity, and its aggregated `trades`
  // channel (Tardis history before 2023-10-19) skips ids by design: coverage finds holes here.
  contiguousTradeIds: false,
  symbol: {
    pattern: /^[a-z0-9]{1,20}-[a-z0-9]{1,20}-swap$/,
    example: 'btc-usdt-swap',
    hint: 'an OKX swap instId, BASE-QUOTE-SWAP',
  },
  channels: {
    // `trades-all`: every fill, on OKX's business websocket (tardis-dev opens a second connection for it).
    trade: ['trades-all'],
    book_ticker: ['bbo-tbt'],
    // Live and replays of the last 3 minutes: `books`; tardis-dev asks older history for `books-l2-tbt`,
    // the same messages (snapshot, then updates with seqId/prevSeqId).
    book_change: ['books'],
    // tardis-dev merges five channels into one ticker; `index-tickers` names the index (`BTC-USDT`).
    derivative_ticker: ['tickers', 'open-interest', 'mark-price', 'index-tickers', 'funding-rate'],
    // Live `liquidation-orders` (per instrument type: every swap); `liquidations` is Tardis's older history.
    liquidation: ['liquidations', 'liquidation-orders'],
  },
  bookTickerUpdateId: () => undefined,
  derivativeTickerEventKey(m) {
    const channel = (m.arg as { channel?: unknown } | undefined)?.channel;
    const data = (m.data as Record<string, unknown>[] | undefined)?.[0];
    if (typeof channel !== 'string' || data === undefined) return undefined;
    if (typeof data.ts === 'string') return `${channel}:${data.ts}`;
    // Older funding-rate pushes carry no `ts`: the period and both rates name the push.
    if (channel !== 'funding-rate' || typeof data.fundingTime !== 'string') return undefined;
    return `${channel}:${data.fundingTime}:${String(data.fundingRate ?? '')}:${String(data.nextFundingRate ?? '')}`;
  },
  refusal(body, configured) {
    if (body.event !== 'error' || body.code !== '60018' || typeof body.msg !== 'string') return undefined;
    const instId = UNKNOWN_INSTRUMENT.exec(body.msg)?.[1]?.toLowerCase();
    if (instId === undefined) return undefined;
    const named = configured.filter((s) => s === instId || okexSwapIndex(s) === instId);
    return { symbols: named.length > 0 ? named : [instId], reason: body.msg };
  },
  // One subscribe request carries every channel of every symbol, and OKX caps a request at 64 KB.
  maxStreamsPerConnection: 100,
};
