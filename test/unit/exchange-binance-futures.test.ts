import test from 'ava';
import type { Exchange, Mapper, NormalizedData } from 'tardis-dev';
// tardis-dev's own subscription builder (what streamNormalized asks the exchange for); not in its typed API.
import { getFilters } from 'tardis-dev/dist/handy.js';
import { STOCK_NORMALIZERS } from '../../functions/adapters/tardis/exchanges.ts';
import { classifyFeedError } from '../../functions/adapters/tardis/live-feed.ts';
import { RawTickNormalizer } from '../../functions/adapters/tardis/normalizers.ts';
import { invalidSymbolReason } from '../../functions/core/exchanges/index.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import { readRelayConfig } from '../../functions/relay/config.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type { BookChangeTick, DerivativeTickerTick, Tick } from '../../functions/core/model/tick.ts';
import {
  binanceFuturesFrame,
  futuresDepthSnapshotFrame,
  openInterestFrame,
} from '../../scripts/local/exchange/binance-futures-wire.ts';
import {
  bookChangesBetween,
  bookSnapshot,
  bookTickerBetween,
  derivativeTickersBetween,
  liquidationsBetween,
  tradesBetween,
  type GroundTruthStream,
  type Tick as GroundTruthTick,
} from '../../scripts/local/exchange/ground-truth.ts';
import { normalize, normalizeAll } from '../support/tardis-parity.ts';

const EXCHANGE: Exchange = 'binance-futures';
const local = new Date('2019-09-01T00:00:01.275Z');

// Message shapes of tardis-dev 13.35.3's own mapper fixtures ('map binance futures messages').
const trade = {
  stream: 'btcusdt@trade',
  data: {
    e: 'trade',
    E: 1596240000596,
    T: 1596240000519,
    s: 'BTCUSDT',
    t: 173525189,
    p: '11343.67',
    q: '0.467',
    X: 'MARKET',
    m: true,
  },
};
const insuranceFundTrade = {
  stream: 'ethusdt@trade',
  data: {
    e: 'trade',
    E: 1596034530241,
    T: 1596034530235,
    s: 'ETHUSDT',
    t: 73701056,
    p: '2366.55',
    q: '0.070',
    X: 'INSURANCE_FUND',
    m: true,
  },
};
const bookTicker = {
  stream: 'btcusdt@bookTicker',
  data: {
    e: 'bookTicker',
    u: 185130926750,
    s: 'BTCUSDT',
    b: '33134.42',
    B: '0.170',
    a: '33139.39',
    A: '0.380',
    T: 1612137603568,
    E: 1612137603571,
  },
};
const depthUpdate = (pu: number, asks: string[][]) => ({
  stream: 'btcusdt@depth@100ms',
  data: {
    e: 'depthUpdate',
    E: 1573948821952,
    T: 1573948821948,
    s: 'BTCUSDT',
    U: 687687944,
    u: 687687946,
    pu,
    b: [['8493.78', '0.162']],
    a: asks,
  },
});
const depthSnapshot = {
  stream: 'btcusdt@depthSnapshot',
  generated: true,
  data: {
    lastUpdateId: 687687945,
    bids: [['8488.36', '1.501']],
    asks: [
      ['4095.99000000', '2.31652000'],
      ['4096.00000000', '1.42541900'],
    ],
  },
};

test('binance-futures trades keep `t` as id live and from history; off-book trades are skipped', (t) => {
  const [tick] = normalize(EXCHANGE, 'trade', trade, local);
  t.like(tick, {
    type: 'trade',
    exchange: 'binance-futures',
    symbol: 'btcusdt',
    id: '173525189',
    price: 11343.67,
    amount: 0.467,
    side: 'sell',
    ts: 1596240000519000,
  });
  t.is(rowId(tick!), 'binance-futures:btcusdt:t:173525189');
  t.deepEqual(normalize(EXCHANGE, 'trade', insuranceFundTrade, local), []);
});

test('binance-futures book tickers carry `u` as update id and the exchange time `E`', (t) => {
  const [live] = normalize(EXCHANGE, 'book_ticker', bookTicker, local);
  const [later] = normalize(EXCHANGE, 'book_ticker', bookTicker, new Date(local.getTime() + 5));
  t.like(live, {
    type: 'book_ticker',
    symbol: 'btcusdt',
    updateId: 185130926750,
    bidPrice: 33134.42,
    bidAmount: 0.17,
    askPrice: 33139.39,
    askAmount: 0.38,
    ts: 1612137603571000,
  });
  t.is(rowId(live!), 'binance-futures:btcusdt:q:185130926750');
  t.is(rowId(later!), rowId(live!), 'the receive time is not part of the identity');
});

test('binance-futures book changes: the snapshot folds in the update buffered before it, then updates follow', (t) => {
  const ticks = normalizeAll(
    EXCHANGE,
    'book_change',
    [depthUpdate(687687946, [['4096.00000000', '2.42541900']]), depthSnapshot, depthUpdate(687690832, [])],
    local,
  ) as BookChangeTick[];
  t.is(ticks.length, 2);
  t.like(ticks[0], { isSnapshot: true, symbol: 'btcusdt', ts: local.getTime() * 1000 });
  t.deepEqual(ticks[0]!.asks, [
    { price: 4095.99, amount: 2.31652 },
    { price: 4096, amount: 2.425419 },
  ]);
  t.like(ticks[1], { isSnapshot: false, ts: 1573948821952000 });
  t.deepEqual(ticks[1]!.bids, [{ price: 8493.78, amount: 0.162 }]);
  t.regex(rowId(ticks[1]!), /^binance-futures:btcusdt:b:[A-Za-z0-9_-]{22}$/);
});

test('binance-futures refuses only a malformed request, naming every configured symbol', (t) => {
  const refused = new Error(
    'Received error message: {"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":1}',
  );
  const rejected = classifyFeedError('binance-futures', ['btcusdt', 'ethusdt'], refused);
  t.deepEqual(rejected?.symbols, ['btcusdt', 'ethusdt']);
  t.is(rejected?.reason, 'Invalid request: invalid stream');
  t.is(
    classifyFeedError('binance-futures', ['btcusdt'], new Error('connect ECONNREFUSED 127.0.0.1:9')),
    undefined,
  );
  const coinbase = new Error(
    'Received error message: {"type":"error","reason":"BTC-XYZ is not a valid product"}',
  );
  t.is(classifyFeedError('binance-futures', ['btcusdt'], coinbase), undefined);
});

test('binance-futures symbols: perpetuals and quarterlies parse; other shapes are refused with the hint', (t) => {
  const streams = parseStreamsConfig('binance-futures:btcusdt,ethusdt_250328:trade,book_ticker,book_change');
  t.is(streams.length, 6);
  t.like(streams[1], { exchange: 'binance-futures', symbol: 'ethusdt_250328', type: 'trade' });
  t.is(invalidSymbolReason('binance-futures', 'ethusdt_250328'), undefined);
  t.is(
    invalidSymbolReason('binance-futures', 'btc-usdt'),
    '"btc-usdt" is not a binance-futures symbol (letters and digits, a quarterly ending _YYMMDD, e.g. btcusdt)',
  );
  t.throws(() => parseStreamsConfig('binance-futures:btcusdt_perp:trade'), {
    message: /binance-futures symbol/,
  });
});

test('the raw normalizer subscribes to what tardis-dev itself would for binance-futures', (t) => {
  const tardisFilters = getFilters as (
    mappers: Mapper<Exchange, NormalizedData>[],
    symbols: string[],
  ) => unknown[];
  const types: DataType[] = ['trade', 'book_ticker', 'book_change'];
  const symbols = ['btcusdt', 'ethusdt'];
  const mappers = types.map((type) => STOCK_NORMALIZERS[type](EXCHANGE, new Date()));
  t.deepEqual(
    new RawTickNormalizer(EXCHANGE, types, new Date()).filters(symbols),
    tardisFilters(mappers, symbols),
  );
});

const truth: GroundTruthStream = { seed: 7, exchange: 'binance-futures', symbol: 'btcusdt', rate: 20 };
const window = { ...truth, from: Date.UTC(2024, 0, 1), to: Date.UTC(2024, 0, 1, 0, 0, 2) };

/** The simulator's frames of ground-truth ticks through both normalizer paths. */
const throughFrames = (type: DataType, ticks: readonly GroundTruthTick[]): Tick[] =>
  normalizeAll(
    EXCHANGE,
    type,
    ticks.map((x) => binanceFuturesFrame(x)),
    local,
  );

test("the simulator's futures frames normalize to the ground truth, keyed by the exchange's ids", (t) => {
  const trades = tradesBetween(window);
  const ticks = throughFrames('trade', trades);
  t.deepEqual(
    ticks.map((x) => rowId(x)),
    trades.map((x) => `binance-futures:btcusdt:t:${x.id}`),
  );
  t.deepEqual(
    ticks.map((x) => x.ts),
    trades.map((x) => x.timestamp * 1000),
  );
  const quotes = bookTickerBetween(window);
  const quoteTicks = throughFrames('book_ticker', quotes);
  t.deepEqual(
    quoteTicks.map((x: Tick) => rowId(x)),
    quotes.map((x) => `binance-futures:btcusdt:q:${x.updateId}`),
  );
});

test("a futures depth snapshot's lastUpdateId is the first update it lacks: each later update applies once", (t) => {
  const changes = bookChangesBetween(window);
  const held = changes[9]!.updateId;
  const at = changes[9]!.timestamp;
  // Updates before and up to the snapshot's book are buffered, as on a live connection, then the snapshot.
  const messages = [
    ...changes.slice(0, 10).map((x) => binanceFuturesFrame(x)),
    futuresDepthSnapshotFrame(bookSnapshot(truth, held), at),
    ...changes.slice(10).map((x) => binanceFuturesFrame(x)),
  ];
  // A receive time of now: tardis-dev then throws on a snapshot without overlap instead of ignoring it.
  const ticks = normalizeAll(EXCHANGE, 'book_change', messages, new Date()) as BookChangeTick[];
  t.is(ticks.filter((x) => x.isSnapshot).length, 1);
  t.is(ticks[0]!.ts, at * 1000, 'futures snapshots carry the exchange time T');
  const book = bookSnapshot(truth, held);
  t.deepEqual(
    ticks[0]!.bids,
    book.bids.map(([price, amount]) => ({ price: Number(price), amount: Number(amount) })),
  );
  t.deepEqual(
    ticks.slice(1).map((x) => x.ts),
    changes.slice(10).map((x) => x.timestamp * 1000),
  );
});

// tardis-dev 13.35.3's fixture shapes for binance-futures' derivative ticker channels and liquidations.
const markPrice = {
  stream: 'btcusdt@markPrice@1s',
  data: {
    e: 'markPriceUpdate',
    E: 1597536008000,
    s: 'BTCUSDT',
    p: '11857.56000000',
    i: '11851.86949091',
    r: '0.00015640',
    T: 1597564800000,
  },
};
const ticker24h = {
  stream: 'btcusdt@ticker',
  data: {
    e: '24hrTicker',
    E: 1597536008467,
    s: 'BTCUSDT',
    p: '-88.17',
    P: '-0.855',
    w: '10223.98',
    c: '10223.74',
    Q: '2.097',
    o: '10311.91',
    h: '10329.38',
    l: '10080.70',
    v: '20248.900',
    q: '207024349.13',
    O: 1568606704662,
    C: 1568693103463,
    F: 148927,
    L: 181349,
    n: 32423,
  },
};
const openInterest = {
  stream: 'btcusdt@openInterest',
  generated: true,
  data: { symbol: 'BTCUSDT', openInterest: '26286.181', time: 1597536009000 },
};
const forceOrder = {
  stream: 'btcusdt@forceOrder',
  data: {
    e: 'forceOrder',
    E: 1584059031426,
    o: {
      s: 'BTCUSDT',
      S: 'BUY',
      o: 'LIMIT',
      f: 'IOC',
      q: '0.014',
      p: '4793.91',
      ap: '4706.04',
      X: 'FILLED',
      l: '0.015',
      z: '0.014',
      T: 1584059031421,
    },
  },
};

test('binance-futures derivative tickers merge markPrice, ticker and openInterest, keyed by channel and time', (t) => {
  const ticks = normalizeAll(EXCHANGE, 'derivative_ticker', [markPrice, ticker24h, openInterest], local);
  t.is(ticks.length, 3, 'every message changes the state');
  t.like(ticks[0], {
    type: 'derivative_ticker',
    symbol: 'btcusdt',
    markPrice: 11857.56,
    indexPrice: 11851.86949091,
    fundingRate: 0.0001564,
    fundingTs: 1597564800000000,
    ts: 1597536008000000,
    lastPrice: undefined,
    openInterest: undefined,
  });
  t.like(ticks[2], { lastPrice: 10223.74, openInterest: 26286.181, ts: 1597536008467000 });
  t.deepEqual(
    ticks.map((x) => rowId(x)),
    [
      'binance-futures:btcusdt:d:markPrice:1597536008000',
      'binance-futures:btcusdt:d:ticker:1597536008467',
      'binance-futures:btcusdt:d:openInterest:1597536009000',
    ],
  );
  // An open interest poll without a time (older recordings) has no key: its row id is a content hash.
  const untimed = { ...openInterest, data: { symbol: 'BTCUSDT', openInterest: '26286.181' } };
  const [hashed] = normalizeAll(EXCHANGE, 'derivative_ticker', [untimed], local);
  t.regex(rowId(hashed!), /^binance-futures:btcusdt:dh:[A-Za-z0-9_-]{22}$/);
});

test('binance-futures liquidations come from forceOrder with a content-hash row id free of receive time', (t) => {
  const [live] = normalize(EXCHANGE, 'liquidation', forceOrder, local);
  const [history] = normalize(EXCHANGE, 'liquidation', forceOrder, new Date(local.getTime() + 1234));
  t.like(live, {
    type: 'liquidation',
    symbol: 'btcusdt',
    id: undefined,
    price: 4793.91,
    amount: 0.014,
    side: 'buy',
    ts: 1584059031421000,
  });
  t.regex(rowId(live!), /^binance-futures:btcusdt:lh:[A-Za-z0-9_-]{22}$/);
  t.is(rowId(history!), rowId(live!));
  const unfilled = { ...forceOrder, data: { ...forceOrder.data, o: { ...forceOrder.data.o, X: 'NEW' } } };
  t.deepEqual(normalize(EXCHANGE, 'liquidation', unfilled, local), []);
});

test("the simulator's derivative ticker and liquidation frames normalize to the ground truth", (t) => {
  const tickers = derivativeTickersBetween({ ...window, to: window.from + 10_000 });
  t.true(tickers.length >= 5);
  const messages = tickers.flatMap((x) => [
    binanceFuturesFrame(x, 'markPrice'),
    binanceFuturesFrame(x, 'ticker'),
    openInterestFrame(x),
  ]);
  const ticks = normalizeAll(EXCHANGE, 'derivative_ticker', messages, local) as DerivativeTickerTick[];
  t.is(ticks.length, 3 * tickers.length, 'one row per message: every value changes at every ticker');
  tickers.forEach((x, i) => {
    t.like(ticks[3 * i + 2], {
      markPrice: Number(x.markPrice),
      indexPrice: Number(x.indexPrice),
      lastPrice: Number(x.lastPrice),
      fundingRate: Number(x.fundingRate),
      fundingTs: x.fundingTime * 1000,
      openInterest: Number(x.openInterest),
      ts: x.timestamp * 1000,
      eventKey: `openInterest:${x.timestamp}`,
    });
  });
  const liquidations = liquidationsBetween({ ...window, to: window.from + 20_000 });
  t.true(liquidations.length >= 2);
  const liquidationTicks = throughFrames('liquidation', liquidations);
  t.deepEqual(
    liquidationTicks.map((x) => x.type === 'liquidation' && [x.ts, x.price, x.amount, x.side]),
    liquidations.map((x) => [x.timestamp * 1000, Number(x.price), Number(x.qty), x.side]),
  );
});

test('REST_URL_BINANCE_FUTURES is optional, an http(s) base without a trailing slash, and names itself when bad', (t) => {
  const base = { GOOGLE_CLOUD_PROJECT: 'p', RELAY_STREAMS: 'binance-futures:btcusdt:derivative_ticker' };
  t.is(readRelayConfig(base).binanceFuturesRestUrl, '');
  const local = { ...base, REST_URL_BINANCE_FUTURES: 'http://127.0.0.1:8123/fapi/v1/' };
  t.is(readRelayConfig(local).binanceFuturesRestUrl, 'http://127.0.0.1:8123/fapi/v1');
  t.throws(() => readRelayConfig({ ...base, REST_URL_BINANCE_FUTURES: 'fapi.binance.com' }), {
    message: /REST_URL_BINANCE_FUTURES/,
  });
});
