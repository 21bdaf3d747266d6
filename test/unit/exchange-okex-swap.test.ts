import test from 'ava';
import { getRealTimeFeedFactory, type Exchange, type Filter } from 'tardis-dev';
import { classifyFeedError } from '../../functions/adapters/tardis/live-feed.ts';
import { STOCK_NORMALIZERS } from '../../functions/adapters/tardis/exchanges.ts';
import { RawTickNormalizer } from '../../functions/adapters/tardis/normalizers.ts';
import {
  namesUnknownInstrument,
  useOkexSwapRefusals,
} from '../../functions/adapters/tardis/okex-swap-refusals.ts';
import { invalidSymbolReason } from '../../functions/core/exchanges/index.ts';
import { okexSwapIndex } from '../../functions/core/exchanges/okex-swap.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type { Tick } from '../../functions/core/model/tick.ts';
import {
  bookChangesBetween,
  bookSnapshot,
  bookTickerBetween,
  derivativeTickersBetween,
  liquidationsBetween,
  tradesBetween,
} from '../../scripts/local/exchange/ground-truth.ts';
import {
  OKEX_SWAP_TICKER_CHANNELS,
  okexBookSnapshot,
  okexBookUpdate,
  okexLiquidations,
  okexSwapMessage,
  okexTickerMessage,
} from '../../scripts/local/exchange/okex-swap-wire.ts';
import { normalizeAll, tardisSubscriptions } from '../support/tardis-parity.ts';

const OKEX_SWAP = 'okex-swap' as Exchange;

/** Raw OKX messages through the live path and the history path (which must agree), per data type. */
function liveAndHistory(types: DataType[], messages: readonly unknown[], local: Date): Tick[] {
  return types.flatMap((type) => normalizeAll(OKEX_SWAP, type, messages, local));
}

// Message shapes of tardis-node 13.35.3 test/mappers.test.ts ('map okex-swap messages', okex V5 and
// okex-futures V5 for the shapes its swap fixtures lack), written out here.
const FIXTURE_DAY = new Date('2021-12-23T00:00:00.000Z');
const tradeMessage = (channel: string) => ({
  arg: { channel, instId: 'BTC-USDT-SWAP' },
  data: [
    {
      instId: 'BTC-USDT-SWAP',
      tradeId: '148266905',
      px: '48938.5',
      sz: '5',
      side: 'buy',
      ts: '1640131236050',
    },
  ],
});
const bboTbt = {
  arg: { channel: 'bbo-tbt', instId: 'BTC-USDT-SWAP' },
  data: [
    { asks: [['38632.4', '727', '0', '22']], bids: [['38632.3', '990', '0', '22']], ts: '1651761120004' },
  ],
};
const bookMessages = (channel: string) => [
  {
    arg: { channel, instId: 'REN-USDT-SWAP' },
    action: 'snapshot',
    data: [
      {
        asks: [['1.27898', '65', '0', '1']],
        bids: [
          ['1.27803', '2', '0', '1'],
          ['1.27802', '65', '0', '1'],
        ],
        ts: '1640131206623',
        checksum: -44519492,
      },
    ],
  },
  {
    arg: { channel, instId: 'REN-USDT-SWAP' },
    action: 'update',
    data: [
      {
        asks: [['0.65442', '14', '0', '2']],
        bids: [
          ['0.65441', '1', '0', '1'],
          ['0.65418', '0', '0', '0'],
        ],
        ts: '1640131236035',
        checksum: 2017579879,
      },
    ],
  },
  // An update that changes nothing yields no book change (tardis-dev skips it).
  {
    arg: { channel, instId: 'REN-USDT-SWAP' },
    action: 'update',
    data: [{ asks: [], bids: [], ts: '1640131236036', checksum: 2017579879 }],
  },
];

test('okex-swap trades keep tradeId as row id, the same live and from history, on both trade channels', (t) => {
  // History before 2023-10-19 holds `trades`; live and later history `trades-all`: the same shape.
  for (const [channel, local] of [
    ['trades', FIXTURE_DAY],
    ['trades-all', new Date()],
  ] as const) {
    const live = liveAndHistory(['trade'], [tradeMessage(channel)], local);
    t.like(live[0], {
      type: 'trade',
      exchange: 'okex-swap',
      symbol: 'btc-usdt-swap',
      id: '148266905',
      price: 48938.5,
      amount: 5,
      side: 'buy',
      ts: 1_640_131_236_050_000,
    });
    t.is(rowId(live[0]!), 'okex-swap:btc-usdt-swap:t:148266905');
  }
});

test('okex-swap quotes (bbo-tbt) get a content-hash row id that does not depend on the receive time', (t) => {
  const first = liveAndHistory(['book_ticker'], [bboTbt], new Date());
  const later = liveAndHistory(['book_ticker'], [bboTbt], new Date(Date.now() + 5_000));
  t.like(first[0], {
    type: 'book_ticker',
    symbol: 'btc-usdt-swap',
    bidPrice: 38632.3,
    bidAmount: 990,
    askPrice: 38632.4,
    askAmount: 727,
    ts: 1_651_761_120_004_000,
  });
  t.is((first[0] as { updateId?: unknown }).updateId, undefined, 'seqId restarts: not an identity');
  t.regex(rowId(first[0]!), /^okex-swap:btc-usdt-swap:q:[A-Za-z0-9_-]{22}$/);
  t.is(rowId(later[0]!), rowId(first[0]!));
});

test('okex-swap book changes: a snapshot then updates, live (`books`) and from history (`books-l2-tbt`) alike', (t) => {
  const live = liveAndHistory(['book_change'], bookMessages('books'), new Date());
  const old = liveAndHistory(['book_change'], bookMessages('books-l2-tbt'), FIXTURE_DAY);
  t.is(live.length, 2, 'the empty update is skipped');
  t.like(live[0], { type: 'book_change', symbol: 'ren-usdt-swap', isSnapshot: true });
  t.like(live[1], {
    isSnapshot: false,
    bids: [
      { price: 0.65441, amount: 1 },
      { price: 0.65418, amount: 0 },
    ],
    asks: [{ price: 0.65442, amount: 14 }],
    ts: 1_640_131_236_035_000,
  });
  t.deepEqual(live.map(rowId), old.map(rowId), 'the channel name is not part of the identity');
});

test('a message on a channel of another type, or an OKX event, yields no tick', (t) => {
  const event = { event: 'subscribe', arg: { channel: 'trades-all', instId: 'BTC-USDT-SWAP' } };
  t.deepEqual(liveAndHistory(['trade'], [bboTbt, event, bookMessages('books')[0]], new Date()), []);
});

test('okex-swap symbols are lower-cased OKX swap instIds; another shape is refused with the hint', (t) => {
  t.deepEqual(parseStreamsConfig('okex-swap:BTC-USDT-SWAP,eth-usdc-swap:trade'), [
    { exchange: 'okex-swap', symbol: 'btc-usdt-swap', type: 'trade' },
    { exchange: 'okex-swap', symbol: 'eth-usdc-swap', type: 'trade' },
  ]);
  t.is(
    invalidSymbolReason('okex-swap', 'btc-usdt'),
    '"btc-usdt" is not a okex-swap symbol (an OKX swap instId, BASE-QUOTE-SWAP, e.g. btc-usdt-swap)',
  );
  t.truthy(invalidSymbolReason('okex-swap', 'btc-usd-240628'), 'a dated future is okex-futures');
  t.is(okexSwapIndex('btc-usdt-swap'), 'btc-usdt');
  t.is(okexSwapIndex('eth-usdc-swap'), 'eth-usd');
});

const refusal = (instId: string, channel = 'trades-all') =>
  new Error(
    `Received error message: {"event":"error","code":"60018","msg":"Wrong URL or channel:${channel},instId:${instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.","connId":"a4d3ae55"}`,
  );

test('OKX refusing an unlisted instId (60018) is fatal and names the configured stream, also via its index', (t) => {
  const configured = ['btc-usdt-swap', 'btc-xyz-swap'];
  t.deepEqual(classifyFeedError('okex-swap', configured, refusal('BTC-XYZ-SWAP'))?.symbols, ['btc-xyz-swap']);
  t.deepEqual(classifyFeedError('okex-swap', configured, refusal('BTC-XYZ', 'index-tickers'))?.symbols, [
    'btc-xyz-swap',
  ]);
  t.regex(classifyFeedError('okex-swap', configured, refusal('BTC-XYZ-SWAP'))!.reason, /^Wrong URL/);
  const invalidRequest = new Error(
    'Received error message: {"event":"error","code":"60012","msg":"Invalid request: {\\"op\\": \\"subscribe\\"}","connId":"a4d3ae55"}',
  );
  t.is(classifyFeedError('okex-swap', configured, invalidRequest), undefined, 'not a refusal: reconnect');
  t.is(classifyFeedError('okex-swap', configured, new Error('connect ECONNREFUSED 127.0.0.1:9')), undefined);
  t.is(classifyFeedError('coinbase', ['btc-usd'], refusal('BTC-XYZ-SWAP')), undefined, 'only its own');
});

/** The per-socket feeds tardis-dev's okex-swap feed would open for `filters`, without connecting. */
function socketFeeds(filters: Filter<string>[]) {
  type Socket = { isIgnoredError(m: unknown): boolean; mapToSubscribeMessages(f: unknown): unknown[] };
  const Feed = getRealTimeFeedFactory(OKEX_SWAP) as unknown as new (...args: unknown[]) => {
    _getRealTimeFeeds(...args: unknown[]): Iterable<Socket>;
  };
  return [...new Feed(OKEX_SWAP, filters, 0, undefined)._getRealTimeFeeds(OKEX_SWAP, filters, 0, undefined)];
}

test('with the refusal patch, tardis-dev reports an unknown instId and still ignores other "doesn\'t exist" errors', (t) => {
  const unknownInstrument = JSON.parse(
    refusal('BTC-XYZ-SWAP').message.replace('Received error message: ', ''),
  );
  const unknownChannel = { event: 'error', code: '60018', msg: "Wrong URL or channel:foo doesn't exist." };
  t.true(namesUnknownInstrument(unknownInstrument));
  t.false(namesUnknownInstrument(unknownChannel));
  const filters = [{ channel: 'bbo-tbt', symbols: ['BTC-USDT-SWAP'] }];
  t.true(socketFeeds(filters)[0]!.isIgnoredError(unknownInstrument), "tardis-dev's own feed ignores it");
  useOkexSwapRefusals();
  useOkexSwapRefusals(); // idempotent
  const [socket] = socketFeeds(filters);
  t.false(socket!.isIgnoredError(unknownInstrument));
  t.true(socket!.isIgnoredError(unknownChannel));
});

test('the okex-swap feed subscribes to what tardis-dev would, `trades-all` on a second socket', (t) => {
  const types: DataType[] = ['trade', 'book_ticker', 'book_change'];
  const symbols = ['btc-usdt-swap', 'eth-usdt-swap'];
  const filters = new RawTickNormalizer(OKEX_SWAP, types, new Date()).filters(symbols);
  t.deepEqual(filters, tardisSubscriptions(OKEX_SWAP, types, symbols));
  const sockets = socketFeeds(filters);
  t.is(sockets.length, 2, 'public and business websockets');
  const args = (i: number) =>
    (
      sockets[i]!.mapToSubscribeMessages(
        filters.filter((f) => (f.channel === 'trades-all') === (i === 1)),
      ) as {
        args: unknown[];
      }[]
    )[0]!.args;
  t.deepEqual(args(0), [
    { channel: 'bbo-tbt', instId: 'BTC-USDT-SWAP' },
    { channel: 'bbo-tbt', instId: 'ETH-USDT-SWAP' },
    { channel: 'books', instId: 'BTC-USDT-SWAP' },
    { channel: 'books', instId: 'ETH-USDT-SWAP' },
  ]);
  t.deepEqual(args(1), [
    { channel: 'trades-all', instId: 'BTC-USDT-SWAP' },
    { channel: 'trades-all', instId: 'ETH-USDT-SWAP' },
  ]);
});

test('the simulator wire: ground-truth ticks as OKX messages normalize to the ground truth, live and from history', (t) => {
  const window = { seed: 11, exchange: 'okex-swap', symbol: 'btc-usdt-swap', rate: 20 };
  const from = Date.UTC(2026, 0, 5, 12);
  const span = { ...window, from, to: from + 2_000 };
  const trades = tradesBetween(span);
  const quotes = bookTickerBetween(span);
  const changes = bookChangesBetween(span);
  const snapshot = bookSnapshot(window, changes[0]!.updateId - 1);
  const messages = [
    okexBookSnapshot(snapshot, from),
    ...[...trades, ...quotes, ...changes]
      .sort((a, b) => a.timestamp - b.timestamp)
      .map((x) => okexSwapMessage(x)),
  ];
  const live = liveAndHistory(['trade', 'book_ticker', 'book_change'], messages, new Date());
  const ofType = <T extends Tick['type']>(type: T) =>
    live.filter((x): x is Extract<Tick, { type: T }> => x.type === type);
  t.deepEqual(
    ofType('trade').map((x) => [x.id, x.price, x.amount, x.side, x.ts]),
    trades.map((x) => [
      String(x.id),
      Number(x.price),
      Number(x.qty),
      x.isBuyerMaker ? 'sell' : 'buy',
      x.timestamp * 1000,
    ]),
  );
  t.deepEqual(
    ofType('book_ticker').map((x) => [x.bidPrice, x.bidAmount, x.askPrice, x.askAmount, x.ts]),
    quotes.map((x) => [
      Number(x.bidPrice),
      Number(x.bidQty),
      Number(x.askPrice),
      Number(x.askQty),
      x.timestamp * 1000,
    ]),
  );
  const books = ofType('book_change');
  t.like(books[0], { isSnapshot: true, ts: from * 1000 });
  t.is(books[0]!.bids.length, snapshot.bids.length);
  t.deepEqual(
    books.slice(1).map((x) => [x.isSnapshot, x.bids.map((l) => [l.price, l.amount]), x.ts]),
    changes.map((x) => [false, x.bids.map(([p, q]) => [Number(p), Number(q)]), x.timestamp * 1000]),
  );
  const update = okexBookUpdate(changes[1]!).data[0]!;
  t.is(update.prevSeqId, changes[0]!.updateId, 'prevSeqId chains the updates');
});

// 'map okex-swap messages' V5 fixtures of the derivative ticker channels, in order.
const tickerFixtures = [
  {
    arg: { channel: 'funding-rate', instId: 'WNCG-USDT-SWAP' },
    data: [
      {
        fundingRate: '0.00048105',
        fundingTime: '1640131200000',
        instId: 'WNCG-USDT-SWAP',
        instType: 'SWAP',
        nextFundingRate: '0.00114',
      },
    ],
  },
  {
    arg: { channel: 'tickers', instId: 'WNCG-USDT-SWAP' },
    data: [
      {
        instType: 'SWAP',
        instId: 'WNCG-USDT-SWAP',
        last: '2.1729',
        lastSz: '0',
        askPx: '2.1738',
        askSz: '168',
        bidPx: '2.1737',
        bidSz: '2',
        open24h: '2.164',
        high24h: '2.25',
        low24h: '2.1493',
        sodUtc0: '2.1718',
        sodUtc8: '2.1644',
        volCcy24h: '803940',
        vol24h: '803940',
        ts: '1640131263109',
      },
    ],
  },
  {
    arg: { channel: 'index-tickers', instId: 'WNCG-USDT' },
    data: [
      {
        instId: 'WNCG-USDT',
        idxPx: '2.1675',
        open24h: '2.1599',
        high24h: '2.2499',
        low24h: '2.1524',
        sodUtc0: '2.1658',
        sodUtc8: '2.1641',
        ts: '1640131290649',
      },
    ],
  },
  {
    arg: { channel: 'mark-price', instId: 'WNCG-USDT-SWAP' },
    data: [{ instId: 'WNCG-USDT-SWAP', instType: 'SWAP', markPx: '2.1729', ts: '1640131259180' }],
  },
  {
    arg: { channel: 'open-interest', instId: 'WNCG-USDT-SWAP' },
    data: [
      { instId: 'WNCG-USDT-SWAP', instType: 'SWAP', oi: '644195', oiCcy: '644195', ts: '1640131258756' },
    ],
  },
];

test('okex-swap derivative tickers merge five channels and are keyed by the message that changed them, also mid-stream', (t) => {
  const all = normalizeAll(OKEX_SWAP, 'derivative_ticker', tickerFixtures, FIXTURE_DAY);
  t.deepEqual(all.map(rowId), [
    'okex-swap:wncg-usdt-swap:d:funding-rate:1640131200000:0.00048105:0.00114',
    'okex-swap:wncg-usdt-swap:d:tickers:1640131263109',
    'okex-swap:wncg-usdt-swap:d:mark-price:1640131259180',
    'okex-swap:wncg-usdt-swap:d:open-interest:1640131258756',
  ]);
  t.like(all.at(-1), {
    type: 'derivative_ticker',
    symbol: 'wncg-usdt-swap',
    fundingRate: 0.00048105,
    fundingTs: 1_640_131_200_000_000,
    predictedFundingRate: 0.00114,
    lastPrice: 2.1729,
    indexPrice: 2.1675,
    markPrice: 2.1729,
    openInterest: 644195,
    // First seen on funding-rate (no `ts`), the ticker took the receive time, and tardis-dev never moves
    // a ticker's time back: the exchange times here are earlier.
    ts: FIXTURE_DAY.getTime() * 1000,
  });
  // A replay that starts at the mark price holds less state, but its rows have the live ids.
  const midStream = normalizeAll(OKEX_SWAP, 'derivative_ticker', tickerFixtures.slice(3), FIXTURE_DAY);
  t.deepEqual(midStream.map(rowId), all.slice(2).map(rowId));
  t.notDeepEqual(midStream[0], all[2], 'the merged state differs; the id does not');
});

const liquidationOrders = {
  arg: { channel: 'liquidation-orders', instType: 'SWAP' },
  data: [
    {
      details: [
        {
          bkLoss: '0',
          bkPx: '0.55205',
          ccy: '',
          posSide: 'short',
          side: 'buy',
          sz: '39',
          ts: '1680173247614',
        },
      ],
      instFamily: 'XRP-USDT',
      instId: 'XRP-USDT-SWAP',
      instType: 'SWAP',
      uly: 'XRP-USDT',
    },
  ],
};

test('okex-swap liquidations keep the first liquidation-orders message, which tardis-dev alone drops', (t) => {
  const stock = STOCK_NORMALIZERS.liquidation(OKEX_SWAP, FIXTURE_DAY);
  t.deepEqual([...(stock.map(liquidationOrders, FIXTURE_DAY) ?? [])], [], "tardis-dev's mapper skips it");
  // OKX pushes the latest liquidation again on subscribe: the copy collapses with the original by row id.
  const ticks = normalizeAll(OKEX_SWAP, 'liquidation', [liquidationOrders, liquidationOrders], FIXTURE_DAY);
  t.is(ticks.length, 2);
  t.like(ticks[0], { type: 'liquidation', symbol: 'xrp-usdt-swap', price: 0.55205, amount: 39, side: 'buy' });
  t.is(ticks[0]!.type === 'liquidation' ? ticks[0]!.id : 'x', undefined);
  t.regex(rowId(ticks[0]!), /^okex-swap:xrp-usdt-swap:lh:[A-Za-z0-9_-]{22}$/);
  t.is(rowId(ticks[1]!), rowId(ticks[0]!));
  // Tardis's older generated `liquidations` channel maps the same way.
  const generated = {
    arg: { channel: 'liquidations', instId: 'BTC-USDT-SWAP', generated: true },
    data: [
      { bkLoss: '0', bkPx: '49674.2', ccy: '', posSide: 'short', side: 'buy', sz: '40', ts: '1640140211925' },
    ],
  };
  t.like(normalizeAll(OKEX_SWAP, 'liquidation', [generated], FIXTURE_DAY)[0], { price: 49674.2, amount: 40 });
});

test('the simulator wire: ground-truth tickers on five channels give four rows each, liquidations their values', (t) => {
  const stream = { seed: 5, exchange: 'okex-swap', symbol: 'eth-usdt-swap', rate: 20 };
  const from = Date.UTC(2026, 0, 5, 12);
  const tickers = derivativeTickersBetween({ ...stream, from, to: from + 5_000 });
  const liquidations = liquidationsBetween({ ...stream, from, to: from + 20_000 });
  t.true(tickers.length >= 4 && liquidations.length >= 2);
  // tardis-dev subscribes (and asks history for) the channels sorted by name: that is their order per tick.
  const channels = [...OKEX_SWAP_TICKER_CHANNELS].sort();
  const messages = tickers.flatMap((g) => channels.map((c) => okexTickerMessage(g, c)));
  // Received at `from`, before the first ticker: a live receive time is never earlier than the exchange's.
  const rows = normalizeAll(OKEX_SWAP, 'derivative_ticker', messages, new Date(from));
  t.is(rows.length, 4 * tickers.length, 'index-tickers only feeds the next row');
  const last = tickers.at(-1)!;
  t.like(rows.at(-1), {
    eventKey: `tickers:${last.timestamp}`,
    lastPrice: Number(last.lastPrice),
    markPrice: Number(last.markPrice),
    indexPrice: Number(last.indexPrice),
    openInterest: Number(last.openInterest),
    fundingRate: Number(last.fundingRate),
    predictedFundingRate: Number(last.predictedFundingRate),
    fundingTs: last.fundingTime * 1000,
    ts: last.timestamp * 1000,
  });
  const mapped = normalizeAll(
    OKEX_SWAP,
    'liquidation',
    liquidations.map((l) => okexLiquidations([l])),
    new Date(),
  );
  t.deepEqual(
    mapped.map((x) => x.type === 'liquidation' && [x.price, x.amount, x.side, x.ts]),
    liquidations.map((l) => [Number(l.price), Number(l.qty), l.side, l.timestamp * 1000]),
  );
});
