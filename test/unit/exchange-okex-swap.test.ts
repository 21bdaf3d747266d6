import test from 'ava';
import {
  getRealTimeFeedFactory,
  type Exchange,
  type Filter,
  type Mapper,
  type NormalizedData,
} from 'tardis-dev';
// tardis-dev's own subscription builder (what streamNormalized asks the exchange for); not in its typed API.
import { getFilters } from 'tardis-dev/dist/handy.js';
import { classifyFeedError } from '../../functions/adapters/tardis/live-feed.ts';
import { RawTickNormalizer, TICK_NORMALIZERS } from '../../functions/adapters/tardis/normalizers.ts';
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
  tradesBetween,
} from '../../scripts/local/exchange/ground-truth.ts';
import {
  okexBookSnapshot,
  okexBookUpdate,
  okexSwapMessage,
} from '../../scripts/local/exchange/okex-swap-wire.ts';
import { normalizeAll } from '../support/tardis-parity.ts';

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
  const tardisFilters = getFilters as (
    mappers: Mapper<Exchange, NormalizedData>[],
    symbols: string[],
  ) => unknown[];
  const types: DataType[] = ['trade', 'book_ticker', 'book_change'];
  const symbols = ['btc-usdt-swap', 'eth-usdt-swap'];
  const filters = new RawTickNormalizer(OKEX_SWAP, types, new Date()).filters(symbols);
  const mappers = types.map((type) => TICK_NORMALIZERS[type](OKEX_SWAP, new Date()));
  t.deepEqual(filters, tardisFilters(mappers, symbols));
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
