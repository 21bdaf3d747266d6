import test from 'ava';
import type { Exchange, Mapper, NormalizedData } from 'tardis-dev';
// tardis-dev's own subscription builder (what streamNormalized asks the exchange for); not in its typed API.
import { getFilters } from 'tardis-dev/dist/handy.js';
import { abortable, drive } from '../../functions/adapters/tardis/abortable.ts';
import { classifyFeedError } from '../../functions/adapters/tardis/live-feed.ts';
import { STOCK_NORMALIZERS, TARDIS_EXCHANGES } from '../../functions/adapters/tardis/exchanges.ts';
import { RawTickNormalizer, TICK_NORMALIZERS } from '../../functions/adapters/tardis/normalizers.ts';
import { EXCHANGES } from '../../functions/core/exchanges/index.ts';
import { FeedRejectedError } from '../../functions/core/relay/feed-rejected-error.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { DATA_TYPES, type DataType } from '../../functions/core/model/streams.ts';
import type { QuoteTick, Tick } from '../../functions/core/model/tick.ts';
import { normalize } from '../support/tardis-parity.ts';

const binanceQuote = {
  stream: 'btcusdt@bookTicker',
  data: {
    u: 400900217,
    s: 'BTCUSDT',
    b: '25.35190000',
    B: '31.21000000',
    a: '25.36520000',
    A: '40.66000000',
  },
};

test('Binance book tickers carry `u` as update id, and the row id does not depend on the receive time', (t) => {
  const live = normalize('binance', 'book_ticker', binanceQuote, new Date(1_700_000_000_123));
  const history = normalize('binance', 'book_ticker', binanceQuote, new Date(1_700_000_000_456));
  t.like(live[0], {
    type: 'book_ticker',
    symbol: 'btcusdt',
    updateId: 400900217,
    bidPrice: 25.3519,
    askAmount: 40.66,
  });
  t.not(live[0]!.ts, history[0]!.ts, 'tardis-dev uses the receive time as timestamp here');
  t.is(rowId(live[0]!), 'binance:btcusdt:q:400900217');
  t.is(rowId(history[0]!), rowId(live[0]!));
});

test('Coinbase tickers carry `sequence` as update id and matches keep their trade id', (t) => {
  const ticker = {
    type: 'ticker',
    sequence: 37475248783,
    product_id: 'ETH-USD',
    price: '1285.22',
    best_bid: '1285.04',
    best_bid_size: '0.46688654',
    best_ask: '1285.27',
    best_ask_size: '1.56637040',
    side: 'buy',
    time: '2022-10-19T23:28:22.061769Z',
    trade_id: 370843401,
    last_size: '11.4396987',
  };
  const [quote] = normalize('coinbase', 'book_ticker', ticker, new Date());
  t.like(quote, { exchange: 'coinbase', symbol: 'eth-usd', updateId: 37475248783, ts: 1666222102061769 });
  t.is(rowId(quote!), 'coinbase:eth-usd:q:37475248783');
  const match = {
    type: 'match',
    trade_id: 10,
    sequence: 50,
    maker_order_id: 'a',
    taker_order_id: 'b',
    time: '2014-11-07T08:19:27.028459Z',
    product_id: 'BTC-USD',
    size: '5.23512',
    price: '400.23',
    side: 'sell',
  };
  const [trade] = normalize('coinbase', 'trade', match, new Date());
  t.like(trade, {
    type: 'trade',
    symbol: 'btc-usd',
    id: '10',
    side: 'buy',
    price: 400.23,
    ts: 1415348367028459,
  });
  t.is(rowId(trade!), 'coinbase:btc-usd:t:10');
});

test('a book ticker without an update id falls back to the content hash', (t) => {
  const [quote] = normalize(
    'binance',
    'book_ticker',
    { ...binanceQuote, data: { ...binanceQuote.data, u: undefined } },
    new Date(),
  );
  t.is(quote!.type === 'book_ticker' ? quote!.updateId : 'x', undefined);
  t.regex(rowId(quote!), /^binance:btcusdt:q:[A-Za-z0-9_-]{22}$/);
});

test('an exchange refusing a subscription is fatal and names the symbol; connection errors are not', (t) => {
  const coinbase = new Error(
    'Received error message: {"type":"error","message":"Failed to subscribe","reason":"BTC-XYZ is not a valid product"}',
  );
  const refused = classifyFeedError('coinbase', ['btc-usd', 'btc-xyz'], coinbase);
  t.true(refused instanceof FeedRejectedError);
  t.deepEqual(refused?.symbols, ['btc-xyz']);
  t.is(refused?.reason, 'BTC-XYZ is not a valid product');
  const binance = new Error(
    'Received error message: {"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":1}',
  );
  t.deepEqual(classifyFeedError('binance', ['btcusdt'], binance)?.symbols, ['btcusdt']);
  t.is(classifyFeedError('binance', ['btcusdt'], new Error('connect ECONNREFUSED 127.0.0.1:9')), undefined);
  t.is(classifyFeedError('binance', ['btcusdt'], new Error('Unexpected server response: 503')), undefined);
  const rateLimited = new Error(
    'Received error message: {"error":{"code":0,"msg":"Too many requests"},"id":1}',
  );
  t.is(classifyFeedError('binance', ['btcusdt'], rateLimited), undefined);
  // Each exchange reads only its own refusals; an exchange without a descriptor has none.
  t.is(classifyFeedError('binance', ['btcusdt'], coinbase), undefined);
  t.is(classifyFeedError('coinbase', ['btc-usd'], binance), undefined);
  t.is(classifyFeedError('kraken', ['xbtusd'], binance), undefined);
});

test('every exchange descriptor names the channels its tardis-dev normalizers ask for, live and in history', (t) => {
  t.deepEqual(Object.keys(TARDIS_EXCHANGES).sort(), Object.keys(EXCHANGES).sort());
  const channelsOf = (mapper: Mapper<Exchange, NormalizedData>) =>
    mapper
      .getFilters(['x'])
      .map((f) => f.channel)
      .sort();
  for (const descriptor of Object.values(EXCHANGES)) {
    const exchange = descriptor.id as Exchange;
    for (const type of DATA_TYPES) {
      const channels = descriptor.channels[type];
      if (channels === undefined) continue;
      const live = new RawTickNormalizer(exchange, [type], new Date()).filters(['x']).map((f) => f.channel);
      t.deepEqual(live.sort(), [...channels].sort(), `${exchange} ${type} live`);
      t.deepEqual(
        channelsOf(TICK_NORMALIZERS[type](exchange, new Date())),
        [...channels].sort(),
        `${exchange} ${type} history`,
      );
    }
  }
});

test('abortable ends a stalled source on abort and rethrows an out-of-band failure', async (t) => {
  async function* stalled(): AsyncIterableIterator<number> {
    yield 1;
    await new Promise(() => undefined);
  }
  const stop = new AbortController();
  const seen: number[] = [];
  const run = (async () => {
    for await (const v of abortable(stalled(), stop.signal, (x) => x)) {
      seen.push(v);
      stop.abort();
    }
  })();
  await run;
  t.deepEqual(seen, [1]);

  const failure = new AbortController();
  const iterate = (async () => {
    for await (const _ of abortable(stalled(), new AbortController().signal, (x) => x, failure.signal)) {
      failure.abort(new FeedRejectedError('coinbase', ['btc-xyz'], 'not listed'));
    }
  })();
  await t.throwsAsync(iterate, { instanceOf: FeedRejectedError });
});

test('drive hands values over synchronously, resolves on abort while stalled, rejects on failure or error', async (t) => {
  async function* stalled(): AsyncIterableIterator<number> {
    yield 1;
    yield 2;
    await new Promise(() => undefined);
  }
  const stop = new AbortController();
  const seen: number[] = [];
  await drive(
    stalled(),
    (v) => {
      seen.push(v);
      if (v === 2) queueMicrotask(() => stop.abort());
    },
    stop.signal,
  );
  t.deepEqual(seen, [1, 2]);

  const failure = new AbortController();
  const failing = drive(
    stalled(),
    () => failure.abort(new FeedRejectedError('coinbase', ['x-y'], 'no')),
    new AbortController().signal,
    failure.signal,
  );
  await t.throwsAsync(failing, { instanceOf: FeedRejectedError });

  async function* broken(): AsyncIterableIterator<number> {
    yield 1;
    throw new Error('socket gone');
  }
  await t.throwsAsync(
    drive(broken(), () => undefined, new AbortController().signal),
    { message: 'socket gone' },
  );
  const done: number[] = [];
  async function* finite(): AsyncIterableIterator<number> {
    yield 7;
  }
  await drive(finite(), (v) => done.push(v), new AbortController().signal);
  t.deepEqual(done, [7]);
});

test('an update id stays as the exchange sent it, a number or digits as text, and both spell one row id', (t) => {
  const quoteWith = (u: unknown) => {
    const [quote] = normalize(
      'binance',
      'book_ticker',
      { ...binanceQuote, data: { ...binanceQuote.data, u } },
      new Date(),
    );
    return quote as QuoteTick;
  };
  for (const n of [0, 2 ** 31, 70_000_000_001, 2 ** 53 - 1]) {
    t.is(quoteWith(n).updateId, n);
    t.is(quoteWith(String(n)).updateId, String(n));
    t.is(rowId(quoteWith(n)), `binance:btcusdt:q:${String(n)}`);
    t.is(rowId(quoteWith(String(n))), rowId(quoteWith(n)));
  }
  // Not an exchange key: the quote falls back to its content hash rather than carry a wrong id.
  for (const u of [-1, 1.5, 2 ** 53, Number.NaN, '12a', '', '-3', null]) {
    t.is(quoteWith(u).updateId, undefined, String(u));
  }
});

test('the raw normalizer subscribes to what tardis-dev itself would for the same types and symbols', (t) => {
  const tardisFilters = getFilters as (
    mappers: Mapper<Exchange, NormalizedData>[],
    symbols: string[],
  ) => unknown[];
  const cases: [Exchange, DataType[], string[]][] = [
    ['binance', ['trade', 'book_ticker', 'book_change'], ['btcusdt', 'ethusdt']],
    ['binance', ['book_change'], ['solusdt']],
    ['coinbase', ['trade', 'book_ticker', 'book_change'], ['btc-usd', 'eth-usd']],
  ];
  for (const [exchange, types, symbols] of cases) {
    const mappers = types.map((type) => STOCK_NORMALIZERS[type](exchange, new Date()));
    t.deepEqual(
      new RawTickNormalizer(exchange, types, new Date()).filters(symbols),
      tardisFilters(mappers, [...symbols]),
      `${exchange} ${types.join(',')}`,
    );
  }
});

test('after reset the raw normalizer starts over, as tardis-dev does for a new connection', (t) => {
  // tardis-dev's Binance book change mapper takes one REST snapshot per connection and ignores later ones.
  const snapshot = () => ({
    stream: 'btcusdt@depthSnapshot',
    generated: true,
    data: { lastUpdateId: 10, bids: [['100.0', '2.0']], asks: [['100.5', '3.0']] },
  });
  const local = new Date(1_700_000_000_000);
  const normalizer = new RawTickNormalizer('binance', ['book_change'], local);
  const ticks: Tick[] = [];
  const take = () => normalizer.normalize(snapshot(), local, (tick) => ticks.push(tick));
  take();
  t.like(ticks[0], { type: 'book_change', symbol: 'btcusdt', isSnapshot: true });
  take();
  t.is(ticks.length, 1, 'a second snapshot on one connection is ignored');
  normalizer.reset();
  take();
  t.is(ticks.length, 2, 'a new connection takes its snapshot');
  t.like(ticks[1], { type: 'book_change', isSnapshot: true, bids: [{ price: 100, amount: 2 }] });
});
