import test from 'ava';
import { exchangeShards, planShards, shardIndex, type Shard } from '../../functions/core/fleet/shards.ts';
import { EXCHANGES } from '../../functions/core/exchanges/index.ts';
import { streamId, type DataType, type StreamKey } from '../../functions/core/model/streams.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';

const TYPES: readonly DataType[] = ['trade', 'book_ticker', 'book_change'];

/** `count` distinct Binance streams with seeded symbols. */
function binanceStreams(count: number, seed: number): StreamKey[] {
  const random = seededRandom(seed);
  const out = new Map<string, StreamKey>();
  while (out.size < count) {
    const symbol = `s${Math.floor(random() * 1e9).toString(36)}usdt`;
    const key: StreamKey = { exchange: 'binance', symbol, type: TYPES[Math.floor(random() * 3)]! };
    out.set(streamId(key), key);
  }
  return [...out.values()];
}

/** Stream id -> shard id. */
function placement(shards: readonly Shard[]): Map<string, string> {
  return new Map(shards.flatMap((s) => s.streams.map((k) => [streamId(k), s.id] as const)));
}

test('every exchange descriptor caps streams per connection at or below the exchange limit', (t) => {
  t.is(EXCHANGES.binance!.maxStreamsPerConnection <= 1024, true);
  for (const descriptor of Object.values(EXCHANGES)) {
    t.true(Number.isInteger(descriptor.maxStreamsPerConnection) && descriptor.maxStreamsPerConnection > 0);
  }
});

test('the shards are the same whatever the order of the configuration', (t) => {
  const streams = [
    ...binanceStreams(700, 7101),
    { exchange: 'coinbase', symbol: 'btc-usd', type: 'trade' as const },
    { exchange: 'coinbase', symbol: 'eth-usd', type: 'book_change' as const },
  ];
  const shuffled = [...streams].reverse();
  const random = seededRandom(9);
  shuffled.sort(() => random() - 0.5);
  t.deepEqual(planShards(shuffled), planShards(streams));
  const shards = planShards(streams);
  t.deepEqual(
    shards.map((s) => s.id),
    [...shards.map((s) => s.id)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
  );
  t.is(shards.at(-1)!.id, 'coinbase/0');
});

test('every stream is in exactly one shard, named exchange/index, within the exchange cap', (t) => {
  const streams = binanceStreams(1500, 4242);
  const shards = planShards(streams);
  t.is(
    shards.reduce((n, s) => n + s.streams.length, 0),
    1500,
  );
  t.is(placement(shards).size, 1500);
  for (const shard of shards) {
    t.is(shard.id, `binance/${shard.index}`);
    t.true(shard.streams.length <= EXCHANGES.binance!.maxStreamsPerConnection);
    t.deepEqual(
      shard.streams.map(streamId),
      shard.streams.map(streamId).sort(),
      'a shard lists its streams sorted',
    );
  }
  // Planned at half the cap of 200: 15 shards of about 100.
  t.is(shards.length, 15);
});

test('a small configuration is one shard per exchange unless more are asked for', (t) => {
  const streams = binanceStreams(12, 5);
  t.is(planShards(streams).length, 1);
  const spread = planShards(streams, { shardFill: 0.5, minShardsPerExchange: 4 });
  t.true(spread.length >= 2 && spread.length <= 4);
  t.true(
    spread.every((s) => s.streams.length > 0),
    'an empty shard is left out',
  );
});

test('growing the shard count by one moves only the streams that land on the new shard', (t) => {
  const streams = binanceStreams(2000, 31337);
  for (const count of [1, 4, 10, 19]) {
    const limits = { maxStreams: 10_000, targetStreams: 10_000 };
    const before = placement(exchangeShards('binance', streams, { ...limits, minShards: count }));
    const after = placement(exchangeShards('binance', streams, { ...limits, minShards: count + 1 }));
    let moved = 0;
    for (const [id, shard] of after) {
      if (before.get(id) === shard) continue;
      moved++;
      t.is(shard, `binance/${count}`, 'a moved stream goes to the new shard only');
    }
    // Expected 2000 / (count + 1); binomial sd at most ~22: allow 5 sd.
    const expected = 2000 / (count + 1);
    t.true(Math.abs(moved - expected) < 5 * Math.sqrt(expected) + 1, `moved ${moved}, expected ~${expected}`);
  }
});

test('a shard that would exceed the cap makes the count grow instead, never a connection over the cap', (t) => {
  const streams = binanceStreams(400, 2718);
  // Planned at the cap itself: two shards of 200 on average, so one of them overflows.
  const planned = [0, 1].map((i) => streams.filter((s) => shardIndex(streamId(s), 2) === i).length);
  t.true(Math.max(...planned) > 200, 'this seed overflows a shard of two');
  const shards = exchangeShards('binance', streams, { maxStreams: 200, targetStreams: 200, minShards: 1 });
  t.true(shards.length >= 3);
  t.true(shards.every((s) => s.streams.length <= 200));
  t.is(placement(shards).size, 400);
});

test('a cap that cannot be met is an error, not an overfull connection', (t) => {
  const streams = binanceStreams(3, 11);
  t.throws(() => exchangeShards('binance', streams, { maxStreams: 0, targetStreams: 1, minShards: 1 }), {
    message: /cannot split 3 binance streams into shards of at most 0/,
  });
  t.throws(() => planShards([{ exchange: 'kraken', symbol: 'x', type: 'trade' }]), {
    message: /unknown exchange/,
  });
});

test('the stream-to-shard hash is deterministic and well spread', (t) => {
  t.is(shardIndex('binance:btcusdt:trade', 10), shardIndex('binance:btcusdt:trade', 10));
  const counts = new Array<number>(8).fill(0);
  for (const s of binanceStreams(8000, 777)) counts[shardIndex(streamId(s), 8)]!++;
  // 1000 expected per shard, sd ~30.
  t.true(
    counts.every((c) => c > 850 && c < 1150),
    counts.join(','),
  );
});

test('the stream-to-shard hash is pinned: instances of two releases must place streams alike', (t) => {
  const placed = ['binance:btcusdt:trade', 'binance:ethusdt:book_ticker', 'coinbase:btc-usd:trade'].map(
    (id) => [1, 7, 100].map((n) => shardIndex(id, n)),
  );
  t.deepEqual(placed, [
    [0, 1, 40],
    [0, 3, 81],
    [0, 6, 53],
  ]);
});
