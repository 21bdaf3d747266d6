/**
 * Binance USD-M futures (fstream) as tardis-dev 13.35.3 uses it, on `/binance-futures/stream`: spot's
 * combined-stream requests (`binanceStreamSession`), times in milliseconds, depth as `btcusdt@depth@0ms`,
 * mark price as `btcusdt@markPrice@1s`, and the REST routes under /fapi/v1 its feed calls: `exchangeInfo`,
 * `depth` (with `E`/`T`) and `openInterest` (polled every 3 s for derivative tickers). Like spot, it
 * accepts any well-formed stream name and sends nothing for a symbol it does not list.
 */
import {
  BINANCE_FUTURES_CHANNEL_KINDS,
  BINANCE_FUTURES_EXCHANGE,
  BINANCE_FUTURES_TARDIS_CHANNEL_KINDS,
  binanceFuturesFrame,
  futuresDepthSnapshot,
  futuresDepthSnapshotFrame,
  openInterestBody,
  openInterestFrame,
} from './binance-futures-wire.ts';
import { parseBinanceStreamName } from './binance-wire.ts';
import { binanceRest, binanceStreamSession } from './binance-protocol.ts';
import type { ExchangeProtocol, RestAnswer, SimulatorContext } from './exchange-protocol.ts';

/**
 * `openInterest?symbol=BTCUSDT`: the open interest of the newest derivative ticker stamped <= now (frozen
 * during a dropping stall), with
 * its time, so polling twice between two tickers gives the same answer (tardis-dev then emits nothing).
 */
function openInterest(url: URL, ctx: SimulatorContext): RestAnswer | undefined {
  const refusing = ctx.refusingStatus();
  if (refusing !== undefined) return undefined;
  const symbol = (url.searchParams.get('symbol') ?? '').toLowerCase();
  const source = ctx.source(symbol, 'derivativeTicker');
  const last = source === undefined ? 0 : source.indexAtOrAfter(ctx.dataNow() + 1);
  if (source === undefined || last === 0) {
    return { status: 400, body: { code: -1121, msg: 'Invalid symbol.' } };
  }
  const ticker = source.tick(last - 1);
  if (ticker.kind !== 'derivativeTicker') throw new Error(`expected a derivative ticker, got ${ticker.kind}`);
  return { status: 200, body: openInterestBody(ticker) };
}

export const BINANCE_FUTURES_PROTOCOL: ExchangeProtocol = {
  exchange: BINANCE_FUTURES_EXCHANGE,
  wsPath: '/binance-futures/stream',
  wsQuery: '',
  open(link, url) {
    const { onMessage } = binanceStreamSession(link, url, BINANCE_FUTURES_CHANNEL_KINDS);
    return {
      timeUnit: 'millisecond',
      onMessage,
      frame: (tick, stream) => binanceFuturesFrame(tick, parseBinanceStreamName(stream)?.channel),
    };
  },
  rest: {
    prefix: '/fapi/',
    base: '/fapi/v1',
    answer(method, url, ctx) {
      const endpoint = url.pathname.replace(/^\/fapi\/v1\//, '');
      if (endpoint === 'openInterest' && method === 'GET') {
        const answer = openInterest(url, ctx);
        if (answer !== undefined) return answer;
      }
      return binanceRest(method, endpoint, url, ctx, futuresDepthSnapshot);
    },
  },
  history: {
    channelKinds: BINANCE_FUTURES_TARDIS_CHANNEL_KINDS,
    isSymbol: (s) => !s.includes('-'),
    fallbackSymbol: 'btcusdt',
    message: (tick, _wire, channel) =>
      channel === 'openInterest' && tick.kind === 'derivativeTicker'
        ? openInterestFrame(tick)
        : binanceFuturesFrame(tick, channel),
    snapshotChannel: 'depthSnapshot',
    snapshotMessage: (book, at) => futuresDepthSnapshotFrame(book, at),
    polledChannels: ['openInterest'],
  },
};
