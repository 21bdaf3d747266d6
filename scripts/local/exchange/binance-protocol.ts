/**
 * Binance spot's websocket protocol as tardis-dev 13.35.3 uses it: combined streams on
 * `/stream?timeUnit=microsecond` (streams also in the URL's `streams=`), `{"method":"SUBSCRIBE","params":
 * ["btcusdt@trade"],"id":1}` answered `{"result":null,"id":1}`, and the REST `exchangeInfo` and `depth`
 * its order book needs (under /api/v3). Binance accepts any well-formed stream name, listed or not, and
 * sends nothing for an unknown symbol.
 */
import {
  BINANCE_CHANNEL_KINDS,
  BINANCE_EXCHANGE,
  binanceDepthSnapshot,
  binanceDepthSnapshotFrame,
  binanceFrame,
  parseBinanceStreamName,
  parseTimeUnit,
} from './binance-wire.ts';
import { bookSnapshot } from './ground-truth.ts';
import {
  parseJson,
  type ConnectionLink,
  type ExchangeProtocol,
  type RestAnswer,
  type SimulatorContext,
} from './exchange-protocol.ts';

interface BinanceRequest {
  method?: unknown;
  params?: unknown;
  id?: unknown;
}

/** The combined-stream request protocol shared by Binance spot and futures (`kinds`: channel -> kind). */
export function binanceStreamSession(
  link: ConnectionLink,
  url: URL,
  kinds: typeof BINANCE_CHANNEL_KINDS,
): { subscribe(stream: string): boolean; onMessage(text: string): void } {
  const subscribe = (stream: string): boolean => {
    const parsed = parseBinanceStreamName(stream);
    if (parsed === undefined) return false;
    link.subscribe(`${parsed.symbol}@${parsed.channel}`, parsed.symbol, kinds[parsed.channel]);
    return true;
  };
  for (const stream of url.searchParams.get('streams')?.split('/') ?? []) subscribe(stream);
  const onMessage = (text: string): void => {
    const request = parseJson(text) as BinanceRequest | undefined;
    if (request === undefined) {
      link.reply({ error: { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' }, id: null });
      return;
    }
    const id = typeof request?.id === 'number' || typeof request?.id === 'string' ? request.id : null;
    const params = Array.isArray(request?.params) ? request.params : [];
    switch (request?.method) {
      case 'SUBSCRIBE': {
        link.countSubscribeRequest();
        const ok = params.every((p) => typeof p === 'string' && subscribe(p));
        link.reply(
          ok ? { result: null, id } : { error: { code: 2, msg: 'Invalid request: invalid stream' }, id },
        );
        return;
      }
      case 'UNSUBSCRIBE':
        for (const p of params) {
          const parsed = typeof p === 'string' ? parseBinanceStreamName(p) : undefined;
          if (parsed !== undefined) link.unsubscribe(`${parsed.symbol}@${parsed.channel}`);
        }
        link.reply({ result: null, id });
        return;
      case 'LIST_SUBSCRIPTIONS':
        link.reply({ result: link.subscriptionNames(), id });
        return;
      default:
        link.reply({ error: { code: 2, msg: 'Invalid request: unknown variant' }, id });
    }
  };
  return { subscribe, onMessage };
}

/**
 * Binance REST as its order book needs it: `exchangeInfo` (tardis-dev reads the REQUEST_WEIGHT limit and
 * the `x-mbx-used-weight-1m` header) and `depth?symbol=BTCUSDT&limit=1000` (the book now: every update
 * stamped <= now, `lastUpdateId` the last of them). exchangeInfo lists the simulator's symbols.
 */
export function binanceRest(method: string, endpoint: string, url: URL, ctx: SimulatorContext): RestAnswer {
  const headers = { 'x-mbx-used-weight-1m': '20' };
  const answer = (status: number, body: unknown): RestAnswer => ({ status, body, headers });
  const refusing = ctx.refusingStatus();
  if (refusing !== undefined) return answer(refusing, { code: -1003, msg: 'Refused by simulator' });
  if (method !== 'GET') return answer(405, { code: -1000, msg: 'method not allowed' });
  if (endpoint === 'exchangeInfo') {
    return answer(200, {
      timezone: 'UTC',
      serverTime: ctx.now(),
      rateLimits: [
        { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
        { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
      ],
      symbols: (ctx.symbols ?? []).filter((x) => !x.includes('-')).map((x) => ({ symbol: x.toUpperCase() })),
    });
  }
  if (endpoint === 'depth') {
    const symbol = (url.searchParams.get('symbol') ?? '').toLowerCase();
    const limit = Math.min(5000, Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100));
    const source = ctx.source(symbol, 'bookChange');
    if (symbol.length === 0 || source === undefined)
      return answer(400, { code: -1121, msg: 'Invalid symbol.' });
    const at = ctx.now();
    const lastUpdateId = source.indexAtOrAfter(at + 1);
    const book = binanceDepthSnapshot(bookSnapshot(source.stream, lastUpdateId));
    ctx.recordSnapshot(symbol, lastUpdateId, at, null);
    return answer(200, { ...book, bids: book.bids.slice(0, limit), asks: book.asks.slice(0, limit) });
  }
  return answer(404, { code: -1, msg: `unknown endpoint ${url.pathname}` });
}

export const BINANCE_PROTOCOL: ExchangeProtocol = {
  exchange: BINANCE_EXCHANGE,
  wsPath: '/stream',
  wsQuery: '?timeUnit=microsecond',
  open(link, url, ctx) {
    const timeUnit = parseTimeUnit(url.searchParams.get('timeUnit'));
    const { onMessage } = binanceStreamSession(link, url, BINANCE_CHANNEL_KINDS);
    const wire = { timeUnit, bookTickerEventTime: ctx.options.bookTickerEventTime };
    return { timeUnit, onMessage, frame: (tick) => binanceFrame(tick, wire) };
  },
  rest: {
    prefix: '/api/',
    base: '/api/v3',
    answer: (method, url, ctx) => binanceRest(method, url.pathname.replace(/^\/api\/v[13]\//, ''), url, ctx),
  },
  history: {
    channelKinds: BINANCE_CHANNEL_KINDS,
    isSymbol: (s) => !s.includes('-'),
    fallbackSymbol: 'btcusdt',
    message: (tick, wire) => binanceFrame(tick, wire),
    snapshotChannel: 'depthSnapshot',
    snapshotMessage: (book) => binanceDepthSnapshotFrame(book),
  },
};
