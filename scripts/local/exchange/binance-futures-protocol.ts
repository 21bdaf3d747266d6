/**
 * Binance USD-M futures (fstream) as tardis-dev 13.35.3 uses it, on `/binance-futures/stream`: spot's
 * combined-stream requests (`binanceStreamSession`), times in milliseconds, depth as `btcusdt@depth@0ms`,
 * and the REST routes under /fapi/v1 its feed calls: `exchangeInfo`, `depth` (with `E`/`T`). Like spot, it
 * accepts any well-formed stream name and sends nothing for a symbol it does not list.
 */
import {
  BINANCE_FUTURES_CHANNEL_KINDS,
  BINANCE_FUTURES_EXCHANGE,
  binanceFuturesFrame,
  futuresDepthSnapshot,
  futuresDepthSnapshotFrame,
} from './binance-futures-wire.ts';
import { binanceRest, binanceStreamSession } from './binance-protocol.ts';
import type { ExchangeProtocol } from './exchange-protocol.ts';

export const BINANCE_FUTURES_PROTOCOL: ExchangeProtocol = {
  exchange: BINANCE_FUTURES_EXCHANGE,
  wsPath: '/binance-futures/stream',
  wsQuery: '',
  open(link, url) {
    const { onMessage } = binanceStreamSession(link, url, BINANCE_FUTURES_CHANNEL_KINDS);
    return { timeUnit: 'millisecond', onMessage, frame: (tick) => binanceFuturesFrame(tick) };
  },
  rest: {
    prefix: '/fapi/',
    base: '/fapi/v1',
    answer: (method, url, ctx) =>
      binanceRest(method, url.pathname.replace(/^\/fapi\/v1\//, ''), url, ctx, futuresDepthSnapshot),
  },
  history: {
    channelKinds: BINANCE_FUTURES_CHANNEL_KINDS,
    isSymbol: (s) => !s.includes('-'),
    fallbackSymbol: 'btcusdt',
    message: (tick) => binanceFuturesFrame(tick),
    snapshotChannel: 'depthSnapshot',
    snapshotMessage: (book, at) => futuresDepthSnapshotFrame(book, at),
  },
};
