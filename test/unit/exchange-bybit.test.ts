import test from 'ava';
import {
  getRealTimeFeedFactory,
  type Exchange,
  type Filter,
  type Mapper,
  type NormalizedData,
} from 'tardis-dev';
import { getFilters } from 'tardis-dev/dist/handy.js';
import { classifyFeedError } from '../../functions/adapters/tardis/live-feed.ts';
import { STOCK_NORMALIZERS } from '../../functions/adapters/tardis/exchanges.ts';
import { RawTickNormalizer } from '../../functions/adapters/tardis/normalizers.ts';
import { invalidSymbolReason } from '../../functions/core/exchanges/index.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { normalizeAll } from '../support/tardis-parity.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type { Tick } from '../../functions/core/model/tick.ts';
import {
  bybitBookSnapshot,
  bybitMessage,
  bybitOpeningMessage,
  bybitQuote,
  bybitSeq,
  bybitTradeId,
  groundTruthTradeId,
} from '../../scripts/local/exchange/bybit-wire.ts';
import { answerBybitRequest, type BybitRequestContext } from '../../scripts/local/exchange/bybit-requests.ts';
import {
  bookSnapshot,
  ticksBetween,
  type GroundTruthStream,
} from '../../scripts/local/exchange/ground-truth.ts';

// Message shapes of tardis-node 13.35.3 test/mappers.test.ts ("map bybit messages", the v5 part), written
// out here for the linear contracts tickstream records.
const TRADE = {
  topic: 'publicTrade.LTCUSDT',
  type: 'snapshot',
  ts: 1680688979985,
  data: [
    {
      T: 1680688979983,
      s: 'LTCUSDT',
      S: 'Buy',
      v: '0.4',
      p: '94.53',
      L: 'ZeroMinusTick',
      i: '4c7b6bdc-b4a3-5716-9c7b-bbe01dc7072f',
      BT: false,
    },
  ],
};
const QUOTES = [
  {
    topic: 'orderbook.1.BTCUSDT',
    type: 'snapshot',
    ts: 1680673820717,
    data: {
      s: 'BTCUSDT',
      b: [['28552.00', '0.047']],
      a: [['28552.10', '25.433']],
      u: 7003305,
      seq: 50193540681,
    },
  },
  {
    topic: 'orderbook.1.BTCUSDT',
    type: 'delta',
    ts: 1680673821137,
    data: { s: 'BTCUSDT', b: [['28552.00', '0.012']], a: [], u: 7003306, seq: 50193543147 },
  },
  {
    topic: 'orderbook.1.BTCUSDT',
    type: 'delta',
    ts: 1682092584425,
    data: {
      s: 'BTCUSDT',
      b: [
        ['27994.60', '0'],
        ['27991.70', '0.777'],
      ],
      a: [
        ['27994.40', '0.058'],
        ['27994.80', '0'],
      ],
      u: 1188472,
      seq: 11155892580,
    },
  },
];
const BOOK = [
  {
    topic: 'orderbook.50.BTCPERP',
    type: 'snapshot',
    ts: 1680673821591,
    data: {
      s: 'BTCPERP',
      b: [['28555.20', '0.597']],
      a: [['28555.30', '0.225']],
      u: 20683568,
      seq: 10916156551,
    },
  },
  {
    topic: 'orderbook.50.BTCPERP',
    type: 'delta',
    ts: 1680673821651,
    data: {
      s: 'BTCPERP',
      b: [['28555.20', '0.677']],
      a: [['28555.30', '0.029']],
      u: 20683569,
      seq: 10916156553,
    },
  },
];

const TICKERS = [
  {
    topic: 'tickers.BTCUSD',
    type: 'snapshot',
    data: {
      symbol: 'BTCUSD',
      tickDirection: 'MinusTick',
      price24hPcnt: '0.023362',
      lastPrice: '28560.00',
      prevPrice24h: '27908.00',
      highPrice24h: '28815.00',
      lowPrice24h: '27862.50',
      prevPrice1h: '28500.50',
      markPrice: '28560.00',
      indexPrice: '28566.94',
      openInterest: '449736676',
      openInterestValue: '15747.08',
      turnover24h: '23389.1894',
      volume24h: '661543991',
      nextFundingTime: '1680681600000',
      fundingRate: '0.0001',
      bid1Price: '28560.00',
      bid1Size: '340549',
      ask1Price: '28560.50',
      ask1Size: '70817',
    },
    cs: 20856433578,
    ts: 1680673822577,
  },
  {
    topic: 'tickers.BTCUSD',
    type: 'delta',
    data: {
      symbol: 'BTCUSD',
      price24hPcnt: '0.023362',
      openInterest: '449736674',
      fundingRate: '0.0001',
      bid1Price: '28560.00',
      bid1Size: '340549',
      ask1Price: '28560.50',
      ask1Size: '70817',
    },
    cs: 20856433603,
    ts: 1680673822776,
  },
  {
    topic: 'tickers.BTCUSDT',
    type: 'snapshot',
    data: {
      symbol: 'BTCUSDT',
      tickDirection: 'ZeroMinusTick',
      price24hPcnt: '0.023333',
      lastPrice: '28550.70',
      prevPrice24h: '27899.70',
      highPrice24h: '28797.10',
      lowPrice24h: '27842.80',
      prevPrice1h: '28474.70',
      markPrice: '28552.81',
      indexPrice: '28562.25',
      openInterest: '52774.528',
      openInterestValue: '1506861070.82',
      turnover24h: '4273027716.4294',
      volume24h: '151185.5160',
      nextFundingTime: '1680681600000',
      fundingRate: '0.0001',
      bid1Price: '28550.70',
      bid1Size: '2.049',
      ask1Price: '28550.80',
      ask1Size: '15.328',
    },
    cs: 50193544280,
    ts: 1680673821770,
  },
];
const ALL_LIQUIDATION = {
  topic: 'allLiquidation.PIPPINUSDT',
  type: 'snapshot',
  ts: 1740480207578,
  data: [{ T: 1740480207110, s: 'PIPPINUSDT', S: 'Sell', v: '2846', p: '0.02456' }],
};
/** Bybit's per-symbol liquidation topic, which tardis-dev reads only for history before 2025-02-26. */
const OLD_LIQUIDATION = {
  data: { price: '0.03803', side: 'Buy', size: '1637', symbol: 'GALAUSDT', updatedTime: 1673251091822 },
  topic: 'liquidation.GALAUSDT',
  ts: 1673251091822,
  type: 'snapshot',
};

/** The mappers tardis-dev picks for a live connection (v5, all-liquidation feed): any recent date. */
const LIVE_ERA = new Date('2026-01-05T00:00:00Z');

test('bybit trades keep the exchange trade id (a UUID) live and from history', (t) => {
  const [trade] = normalizeAll('bybit', 'trade', [TRADE], LIVE_ERA);
  t.deepEqual(trade, {
    type: 'trade',
    exchange: 'bybit',
    symbol: 'ltcusdt',
    id: '4c7b6bdc-b4a3-5716-9c7b-bbe01dc7072f',
    price: 94.53,
    amount: 0.4,
    side: 'buy',
    ts: 1680688979983_000,
    localTs: LIVE_ERA.getTime() * 1000,
  });
  t.is(rowId(trade!), 'bybit:ltcusdt:t:4c7b6bdc-b4a3-5716-9c7b-bbe01dc7072f');
});

test('bybit quotes come from orderbook.1 (snapshot, then deltas) and are keyed by the cross sequence `seq`', (t) => {
  const quotes = normalizeAll('bybit', 'book_ticker', QUOTES, LIVE_ERA);
  t.is(quotes.length, 3);
  t.like(quotes[0], {
    symbol: 'btcusdt',
    bidPrice: 28552,
    bidAmount: 0.047,
    askPrice: 28552.1,
    askAmount: 25.433,
  });
  // A delta without asks keeps the snapshot's best ask; a removed level ("0") is not a best price.
  t.like(quotes[1], {
    bidPrice: 28552,
    bidAmount: 0.012,
    askPrice: 28552.1,
    askAmount: 25.433,
    ts: 1680673821137_000,
  });
  t.like(quotes[2], { bidPrice: 27991.7, bidAmount: 0.777, askPrice: 27994.4, askAmount: 0.058 });
  t.deepEqual(
    quotes.map((q) => rowId(q)),
    ['bybit:btcusdt:q:50193540681', 'bybit:btcusdt:q:50193543147', 'bybit:btcusdt:q:11155892580'],
  );
  const later = normalizeAll('bybit', 'book_ticker', QUOTES, new Date(LIVE_ERA.getTime() + 5_000));
  t.deepEqual(
    later.map((q) => rowId(q)),
    quotes.map((q) => rowId(q)),
    'the row id does not depend on the receive time',
  );
});

test('a bybit quote delta before any snapshot gives nothing, and a new connection needs a new snapshot', (t) => {
  t.deepEqual(normalizeAll('bybit', 'book_ticker', QUOTES.slice(1), LIVE_ERA), []);
  const normalizer = new RawTickNormalizer('bybit', ['book_ticker'], LIVE_ERA);
  const ticks: Tick[] = [];
  for (const message of QUOTES.slice(0, 2)) normalizer.normalize(message, LIVE_ERA, (x) => ticks.push(x));
  normalizer.reset();
  normalizer.normalize(QUOTES[1], LIVE_ERA, (x) => ticks.push(x));
  t.is(ticks.length, 2, 'the delta after a reconnect waits for the snapshot');
});

test('bybit order book changes from orderbook.50: the snapshot then deltas, with equal content-hash ids', (t) => {
  const changes = normalizeAll('bybit', 'book_change', BOOK, LIVE_ERA);
  t.like(changes[0], {
    type: 'book_change',
    symbol: 'btcperp',
    isSnapshot: true,
    bids: [{ price: 28555.2, amount: 0.597 }],
    asks: [{ price: 28555.3, amount: 0.225 }],
    ts: 1680673821591_000,
  });
  t.like(changes[1], { isSnapshot: false, bids: [{ price: 28555.2, amount: 0.677 }] });
  t.regex(rowId(changes[1]!), /^bybit:btcperp:b:[A-Za-z0-9_-]{22}$/);
  const later = normalizeAll('bybit', 'book_change', BOOK, new Date(LIVE_ERA.getTime() + 5_000));
  t.deepEqual(
    later.map((c) => rowId(c)),
    changes.map((c) => rowId(c)),
  );
});

test('a bybit subscribe refusal is fatal and names the refused symbol; pongs and connection errors are not', (t) => {
  const refusal = (retMsg: string) =>
    new Error(
      `Received error message: {"success":false,"ret_msg":"${retMsg}","conn_id":"c1","req_id":"","op":"subscribe"}`,
    );
  const handlerNotFound = classifyFeedError(
    'bybit',
    ['btcusdt', 'xyzusdt'],
    refusal('error:handler not found,topic:publicTrade.XYZUSDT'),
  );
  t.deepEqual(handlerNotFound?.symbols, ['xyzusdt']);
  t.is(handlerNotFound?.reason, 'error:handler not found,topic:publicTrade.XYZUSDT');
  const invalid = classifyFeedError(
    'bybit',
    ['btcusdt', 'xyzusdt'],
    refusal('Invalid symbol :[orderbook.50.XYZUSDT]'),
  );
  t.deepEqual(invalid?.symbols, ['xyzusdt']);
  // A refusal naming nothing still stops the relay: the same request would be refused again.
  t.deepEqual(classifyFeedError('bybit', ['btcusdt'], refusal('params error'))?.symbols, ['btcusdt']);
  const twice = refusal('error:already subscribed,topic:publicTrade.BTCUSDT');
  t.is(classifyFeedError('bybit', ['btcusdt'], twice), undefined, 'a new connection subscribes once');
  const pong = new Error('Received error message: {"success":true,"ret_msg":"pong","op":"ping"}');
  t.is(classifyFeedError('bybit', ['btcusdt'], pong), undefined);
  t.is(classifyFeedError('bybit', ['btcusdt'], new Error('Unexpected server response: 503')), undefined);
  t.is(
    classifyFeedError('binance', ['btcusdt'], refusal('error:handler not found,topic:publicTrade.BTCUSDT')),
    undefined,
    "another exchange's descriptor does not read Bybit's answers",
  );
});

test('bybit symbols are linear perpetuals, lower-cased: BASE then USDT, or BASE then PERP', (t) => {
  t.deepEqual(parseStreamsConfig('bybit:BTCUSDT,ethperp,1000pepeusdt:trade'), [
    { exchange: 'bybit', symbol: 'btcusdt', type: 'trade' },
    { exchange: 'bybit', symbol: 'ethperp', type: 'trade' },
    { exchange: 'bybit', symbol: '1000pepeusdt', type: 'trade' },
  ]);
  const hint = 'a linear perpetual: BASE then USDT, or BASE then PERP for USDC, e.g. btcusdt';
  t.is(invalidSymbolReason('bybit', 'btcusd'), `"btcusd" is not a bybit symbol (${hint})`);
  t.is(invalidSymbolReason('bybit', 'btc-usdt'), `"btc-usdt" is not a bybit symbol (${hint})`);
  t.throws(() => parseStreamsConfig('bybit:btcusd:trade'), { message: /"btcusd" is not a bybit symbol/ });
  t.throws(() => parseStreamsConfig('kraken:xbtusd:trade'), { message: /\(one of [a-z, -]*\bbybit\b/ });
});

/** The websocket connections tardis-dev's bybit feed opens for `filters`: URL and subscribe messages. */
function bybitConnections(filters: Filter<string>[]): { url: string; subscribes: unknown[] }[] {
  type Single = {
    wssURL: string;
    mapToSubscribeMessages(f: Filter<string>[]): unknown[];
    _filters: Filter<string>[];
  };
  const Feed = getRealTimeFeedFactory('bybit') as unknown as new (...args: unknown[]) => {
    _getRealTimeFeeds(exchange: string, filters: Filter<string>[], timeout: number): Iterable<Single>;
  };
  const feeds = [...new Feed('bybit', filters, 0)._getRealTimeFeeds('bybit', filters, 0)];
  return feeds.map((feed) => ({ url: feed.wssURL, subscribes: feed.mapToSubscribeMessages(feed._filters) }));
}

test('the relay subscribes bybit as tardis-dev would: one linear socket, topics <channel>.<SYMBOL> by tens', (t) => {
  const types: DataType[] = ['trade', 'book_ticker', 'book_change'];
  const symbols = ['btcusdt', 'ethusdt', 'solusdt', 'btcperp'];
  const filters = new RawTickNormalizer('bybit', types, LIVE_ERA).filters(symbols);
  const mappers = types.map((type) => STOCK_NORMALIZERS[type]('bybit', LIVE_ERA));
  t.deepEqual(
    filters,
    (getFilters as (m: Mapper<Exchange, NormalizedData>[], s: string[]) => unknown[])(mappers, symbols),
  );
  const connections = bybitConnections(filters);
  t.is(connections.length, 1, 'every accepted symbol goes to the linear socket');
  t.is(connections[0]!.url, 'wss://stream.bybit.com/v5/public/linear');
  // tardis-dev sorts channels and symbols, then sends at most ten topics per subscribe.
  t.deepEqual(connections[0]!.subscribes, [
    {
      op: 'subscribe',
      args: [
        'orderbook.1.BTCPERP',
        'orderbook.1.BTCUSDT',
        'orderbook.1.ETHUSDT',
        'orderbook.1.SOLUSDT',
        'orderbook.50.BTCPERP',
        'orderbook.50.BTCUSDT',
        'orderbook.50.ETHUSDT',
        'orderbook.50.SOLUSDT',
        'publicTrade.BTCPERP',
        'publicTrade.BTCUSDT',
      ],
    },
    { op: 'subscribe', args: ['publicTrade.ETHUSDT', 'publicTrade.SOLUSDT'] },
  ]);
});

const MARKET: GroundTruthStream = { seed: 20, exchange: 'bybit', symbol: 'btcusdt', rate: 50 };
const WINDOW = { ...MARKET, from: LIVE_ERA.getTime(), to: LIVE_ERA.getTime() + 2_000 };

test("the simulator's bybit trades normalize to the ground truth, and their UUIDs give its trade ids back", (t) => {
  const truth = ticksBetween('trade', WINDOW);
  t.true(truth.length > 50);
  const trades = normalizeAll('bybit', 'trade', truth.map(bybitMessage), LIVE_ERA);
  t.deepEqual(
    trades.map((x) => (x.type === 'trade' ? [x.id, x.price, x.amount, x.side, x.ts] : undefined)),
    truth.map((x) => [
      bybitTradeId(x),
      Number(x.price),
      Number(x.qty),
      x.isBuyerMaker ? 'sell' : 'buy',
      x.timestamp * 1000,
    ]),
  );
  t.deepEqual(
    trades.map((x) => (x.type === 'trade' ? groundTruthTradeId(x.id!) : undefined)),
    truth.map((x) => x.id),
  );
  t.is(new Set(trades.map((x) => rowId(x))).size, truth.length, 'one row id per trade');
  t.is(groundTruthTradeId('1001'), undefined, 'not a Bybit trade id');
});

test("the simulator's bybit quotes (a snapshot, then deltas) normalize to the ground truth, keyed by seq", (t) => {
  const truth = ticksBetween('bookTicker', WINDOW);
  const messages = truth.map((q, i) => bybitQuote(q, i === 0 ? 'snapshot' : 'delta'));
  const quotes = normalizeAll('bybit', 'book_ticker', messages, LIVE_ERA);
  t.deepEqual(
    quotes.map((x) =>
      x.type === 'book_ticker' ? [x.bidPrice, x.bidAmount, x.askPrice, x.askAmount, x.ts] : 0,
    ),
    truth.map((q) => [
      Number(q.bidPrice),
      Number(q.bidQty),
      Number(q.askPrice),
      Number(q.askQty),
      q.timestamp * 1000,
    ]),
  );
  t.deepEqual(
    quotes.map((x) => rowId(x)),
    truth.map((q) => `bybit:btcusdt:q:${bybitSeq(q.updateId)}`),
  );
});

test("the simulator's bybit book snapshot and deltas normalize to the ground-truth book", (t) => {
  const truth = ticksBetween('bookChange', WINDOW);
  const book = bookSnapshot(MARKET, truth[0]!.updateId - 1);
  const changes = normalizeAll(
    'bybit',
    'book_change',
    [bybitBookSnapshot(book, WINDOW.from), ...truth.map(bybitMessage)],
    LIVE_ERA,
  );
  t.is(changes.length, truth.length + 1);
  const levels = (list: readonly (readonly [string, string])[]) =>
    list.map(([price, amount]) => ({ price: Number(price), amount: Number(amount) }));
  t.like(changes[0], {
    isSnapshot: true,
    bids: levels(book.bids),
    asks: levels(book.asks),
    ts: WINDOW.from * 1000,
  });
  t.deepEqual(
    changes.slice(1).map((x) => (x.type === 'book_change' ? [x.isSnapshot, x.bids, x.asks, x.ts] : 0)),
    truth.map((c) => [false, levels(c.bids), levels(c.asks), c.timestamp * 1000]),
  );
});

const CONTEXT: BybitRequestContext = {
  connId: 'c1',
  isListed: (symbol) => symbol !== 'xyzusdt',
  subscribed: new Set(['publicTrade.ETHUSDT']),
  silentChannels: ['orderbook.200'],
};

test('the simulated bybit answers subscribe and ping as Bybit does, and refuses a batch naming an unlisted symbol', (t) => {
  const ok = answerBybitRequest(
    '{"op":"subscribe","args":["publicTrade.BTCUSDT","orderbook.50.BTCUSDT","tickers.BTCUSDT","orderbook.200.BTCUSDT"]}',
    CONTEXT,
  );
  t.deepEqual(ok.answer, { success: true, ret_msg: '', conn_id: 'c1', req_id: '', op: 'subscribe' });
  t.deepEqual(
    ok.subscribe.map((x) => [x.topic, x.channel, x.symbol, x.kind]),
    [
      ['publicTrade.BTCUSDT', 'publicTrade', 'btcusdt', 'trade'],
      ['orderbook.50.BTCUSDT', 'orderbook.50', 'btcusdt', 'bookChange'],
      ['tickers.BTCUSDT', 'tickers', 'btcusdt', 'derivativeTicker'],
      ['orderbook.200.BTCUSDT', 'orderbook.200', 'btcusdt', undefined],
    ],
  );
  const pong = answerBybitRequest('{"op":"ping","req_id":"p1"}', CONTEXT);
  t.deepEqual(pong.answer, { success: true, ret_msg: 'pong', conn_id: 'c1', req_id: 'p1', op: 'ping' });
  t.deepEqual([pong.subscribe, pong.unsubscribe], [[], []]);
  const refusals: [string, string][] = [
    ['"publicTrade.BTCUSDT","publicTrade.XYZUSDT"', 'publicTrade.XYZUSDT'],
    ['"orderbook.500.BTCUSDT"', 'orderbook.500.BTCUSDT'],
    ['"publicTrade.BTCUSD"', 'publicTrade.BTCUSD'],
  ];
  for (const [args, topic] of refusals) {
    const refused = answerBybitRequest(`{"op":"subscribe","args":[${args}]}`, CONTEXT);
    t.deepEqual(refused.answer, {
      success: false,
      ret_msg: `error:handler not found,topic:${topic}`,
      conn_id: 'c1',
      req_id: '',
      op: 'subscribe',
    });
    t.deepEqual(refused.subscribe, [], 'nothing of a refused batch is subscribed');
    // The relay reads the refusal the simulator sends as Bybit's, naming the symbol.
    const error = new Error(`Received error message: ${JSON.stringify(refused.answer)}`);
    const symbol = topic.split('.').at(-1)!.toLowerCase();
    t.deepEqual(classifyFeedError('bybit', ['ethusdt', symbol], error)?.symbols, [symbol]);
  }
  const twice = answerBybitRequest('{"op":"subscribe","args":["publicTrade.ETHUSDT"]}', CONTEXT);
  t.is(twice.answer.ret_msg, 'error:already subscribed,topic:publicTrade.ETHUSDT');
  const gone = answerBybitRequest('{"op":"unsubscribe","args":["publicTrade.ETHUSDT"]}', CONTEXT);
  t.deepEqual([gone.answer.success, gone.unsubscribe.map((x) => x.topic)], [true, ['publicTrade.ETHUSDT']]);
  t.is(answerBybitRequest('nonsense', CONTEXT).answer.success, false);
  t.is(answerBybitRequest('{"op":"auth"}', CONTEXT).answer.success, false);
});

test('bybit tickers give derivative tickers merged per symbol, keyed by topic and time, live and from history', (t) => {
  const tickers = normalizeAll('bybit', 'derivative_ticker', TICKERS, LIVE_ERA);
  t.is(tickers.length, 3);
  t.like(tickers[2], {
    type: 'derivative_ticker',
    symbol: 'btcusdt',
    lastPrice: 28550.7,
    markPrice: 28552.81,
    indexPrice: 28562.25,
    openInterest: 52774.528,
    fundingRate: 0.0001,
    fundingTs: 1680681600000_000,
    predictedFundingRate: undefined,
    ts: 1680673821770_000,
  });
  // The delta carries only some fields; tardis-dev merges it into the snapshot's state.
  t.like(tickers[1], { symbol: 'btcusd', openInterest: 449736674, markPrice: 28560, indexPrice: 28566.94 });
  t.deepEqual(
    tickers.map((x) => rowId(x)),
    [
      'bybit:btcusd:d:tickers:1680673822577',
      'bybit:btcusd:d:tickers:1680673822776',
      'bybit:btcusdt:d:tickers:1680673821770',
    ],
  );
  // A replay that starts at the delta has another merged state but the same row id.
  const [alone] = normalizeAll('bybit', 'derivative_ticker', [TICKERS[1]], LIVE_ERA);
  t.like(alone, { openInterest: 449736674, markPrice: undefined });
  t.is(rowId(alone!), rowId(tickers[1]!));
});

test('bybit allLiquidation gives liquidations without an id: a content hash, the same at any receive time', (t) => {
  const [liquidation] = normalizeAll('bybit', 'liquidation', [ALL_LIQUIDATION], LIVE_ERA);
  t.deepEqual(liquidation, {
    type: 'liquidation',
    exchange: 'bybit',
    symbol: 'pippinusdt',
    id: undefined,
    price: 0.02456,
    amount: 2846,
    side: 'buy', // `S: Sell`: a short position was liquidated, by a buy order
    ts: 1740480207110_000,
    localTs: LIVE_ERA.getTime() * 1000,
  });
  t.regex(rowId(liquidation!), /^bybit:pippinusdt:lh:[A-Za-z0-9_-]{22}$/);
  const [later] = normalizeAll(
    'bybit',
    'liquidation',
    [ALL_LIQUIDATION],
    new Date(LIVE_ERA.getTime() + 60_000),
  );
  t.is(rowId(later!), rowId(liquidation!));
  t.deepEqual(
    normalizeAll('bybit', 'liquidation', [OLD_LIQUIDATION], LIVE_ERA),
    [],
    'the old topic is not read live',
  );
});

const SLOW = { ...MARKET, from: LIVE_ERA.getTime(), to: LIVE_ERA.getTime() + 60_000 };

test("the simulator's bybit tickers (a snapshot, then deltas) normalize to the ground truth", (t) => {
  const truth = ticksBetween('derivativeTicker', SLOW);
  t.true(truth.length >= 30);
  const messages = truth.map((x, i) => (i === 0 ? bybitOpeningMessage(x) : bybitMessage(x)));
  const tickers = normalizeAll('bybit', 'derivative_ticker', messages, LIVE_ERA);
  t.deepEqual(
    tickers.map((x) =>
      x.type === 'derivative_ticker'
        ? [rowId(x), x.lastPrice, x.markPrice, x.indexPrice, x.openInterest, x.fundingRate, x.fundingTs]
        : 0,
    ),
    truth.map((g) => [
      `bybit:btcusdt:d:tickers:${g.timestamp}`,
      Number(g.lastPrice),
      Number(g.markPrice),
      Number(g.indexPrice),
      Number(g.openInterest),
      Number(g.fundingRate),
      g.fundingTime * 1000,
    ]),
  );
});

test("the simulator's bybit liquidations normalize to the ground truth", (t) => {
  const truth = ticksBetween('liquidation', SLOW);
  t.true(truth.length >= 5);
  const liquidations = normalizeAll('bybit', 'liquidation', truth.map(bybitMessage), LIVE_ERA);
  t.deepEqual(
    liquidations.map((x) => (x.type === 'liquidation' ? [x.side, x.price, x.amount, x.ts] : 0)),
    truth.map((g) => [g.side, Number(g.price), Number(g.qty), g.timestamp * 1000]),
  );
  t.is(new Set(liquidations.map((x) => rowId(x))).size, truth.length, 'one row id per liquidation');
});
