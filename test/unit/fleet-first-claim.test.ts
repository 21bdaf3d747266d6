// A fresh shard's first claim: what a replica received before the claimant covered the shard is published
// by that replica, once (functions/core/fleet/first-claim.ts, decision 0021 "First claim").
import test, { type ExecutionContext } from 'ava';
import { mayClaimFirst, unclaimedBefore } from '../../functions/core/fleet/first-claim.ts';
import type { Shard } from '../../functions/core/fleet/shards.ts';
import { FleetShard } from '../../functions/core/relay/fleet-shard.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';
import { FakeFeed } from '../support/doubles/tick-feed.ts';
import { FakePublisher } from '../support/doubles/tick-publisher.ts';
import { trade } from '../support/ticks.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const SHARD: Shard = {
  id: 'binance/0',
  exchange: 'binance',
  index: 0,
  streams: [{ exchange: 'binance', symbol: 'btcusdt', type: 'trade' }],
};
const LIMITS = { maxTicks: 1000, maxBytes: 1 << 20, maxWaitMs: 100, heartbeatMs: 1000 };
const settle = () => new Promise((r) => setImmediate(r));

/** One replica of SHARD on its own feed, sharing `clock` and `publisher` with the other replicas. */
function replica(t: ExecutionContext, name: string, clock: ManualClock, publisher: FakePublisher) {
  const feed = new FakeFeed();
  const options = { relayId: name, limits: LIMITS, maxInFlightBytes: 1 << 30, tickIntervalMs: 3_600_000 };
  const held = new FleetShard(SHARD, feed, publisher, clock, new MemoryLogger(), options, 1 << 20);
  void held.start();
  t.teardown(() => held.stop());
  return { held, feed };
}

/** The exchange sends trade n (stamped at T0 + 100 n ms) to every connection in `to`. */
function send(clock: ManualClock, n: number, to: FakeFeed[]): void {
  clock.time = T0 + 100 * n;
  const tick = trade(n, { localTs: clock.time * 1000 });
  for (const feed of to) feed.push({ kind: 'tick', tick });
}

const tradeIds = (publisher: FakePublisher) =>
  [
    ...new Set(publisher.published.flatMap((b) => b.ticks.map((x) => (x.type === 'trade' ? x.id : '')))),
  ].sort();

test('a replica that received ticks before the claimant covered the shard publishes them once it reads the claim', async (t) => {
  const clock = new ManualClock(T0);
  const publisher = new FakePublisher();
  const early = replica(t, 'early', clock, publisher);
  for (let n = 1; n <= 4; n++) send(clock, n, [early.feed]); // only the early replica is subscribed yet
  const late = replica(t, 'late', clock, publisher);
  for (let n = 5; n <= 9; n++) {
    send(clock, n, [early.feed, late.feed]);
    early.held.service.tick();
    late.held.service.tick();
  }
  t.is(publisher.published.length, 0, 'standbys publish nothing');

  // The late replica claims first: its record states where its coverage starts.
  const bufferFrom = late.held.bufferFrom();
  t.is(bufferFrom, T0 + 500);
  t.true(mayClaimFirst(bufferFrom, 0, 5_000));
  late.held.promote(1, null);
  const record = { holder: 'late', epoch: 1, publishedTo: bufferFrom!, renewedAt: clock.now() };
  t.is(unclaimedBefore(record), T0 + 500);
  clock.advance(200);
  late.held.service.tick(); // cuts the open window (trade 9)
  await settle();
  t.deepEqual(tradeIds(publisher), ['1005', '1006', '1007', '1008', '1009'], 'the claimant has only its own');

  t.true(early.held.releaseUnclaimed(unclaimedBefore(record)) > 0);
  t.is(early.held.releaseUnclaimed(unclaimedBefore(record)), 0, 'once');
  await settle();
  const ids = tradeIds(publisher);
  t.deepEqual(ids.slice(0, 5), ['1001', '1002', '1003', '1004', '1005'], 'what only the early one received');
  t.is(ids.length, 9, 'every trade the exchange sent');
  const released = publisher.published.filter((b) => b.relayId === 'early');
  t.true(
    released.every((b) => b.window.from < T0 + 500),
    'nothing the claimant covers is released',
  );
  t.is(early.held.isPublishing, false, 'it stays a standby');
});

test('a replica closed before reading any claim publishes what it holds; after a claim it only drops it', async (t) => {
  const clock = new ManualClock(T0);
  const publisher = new FakePublisher();
  const unclaimed = replica(t, 'unclaimed', clock, publisher);
  const claimed = replica(t, 'claimed', clock, publisher);
  for (let n = 1; n <= 5; n++) send(clock, n, [unclaimed.feed, claimed.feed]);
  claimed.held.releaseUnclaimed(T0); // it read a claim covering everything it holds
  await Promise.all([unclaimed.held.stop(), claimed.held.stop()]);
  t.deepEqual(tradeIds(publisher), ['1001', '1002', '1003', '1004', '1005']);
  t.true(publisher.published.every((b) => b.relayId === 'unclaimed'));
  t.true(unclaimed.held.claimed);
});

test('a first claim waits until the claimant covers, or a lease for a quiet shard; a record proves coverage from its replay point', (t) => {
  t.false(mayClaimFirst(null, 4_999, 5_000), 'no data yet: its coverage start is unknown');
  t.true(mayClaimFirst(null, 5_000, 5_000), 'a quiet shard still gets a primary');
  t.true(mayClaimFirst(1_000, 0, 5_000));
  t.is(unclaimedBefore({ holder: 'a', epoch: 1, publishedTo: 1_000, renewedAt: 9_000 }), 1_000);
  t.is(
    unclaimedBefore({ holder: 'a', epoch: 1, publishedTo: 0, renewedAt: 9_000 }),
    9_000,
    'no replay point: only from the take-over itself',
  );
});

test('what a standby still has in an open window when it reads the claim is released once that window is cut', async (t) => {
  const clock = new ManualClock(T0);
  const publisher = new FakePublisher();
  const early = replica(t, 'early', clock, publisher);
  for (let n = 1; n <= 3; n++) send(clock, n, [early.feed]); // one open window, nothing cut yet
  t.is(early.held.releaseUnclaimed(T0 + 250), 0, 'nothing held yet');
  clock.advance(1_000);
  early.held.service.tick(); // the window [T0 + 100, ...) is cut now
  send(clock, 15, [early.feed]);
  clock.advance(1_000);
  early.held.service.tick();
  await settle();
  t.deepEqual(
    tradeIds(publisher),
    ['1001', '1002', '1003'],
    'the window begun before the claim, not later ones',
  );
  t.true(early.held.buffer.size > 0, 'later windows wait in the replay buffer');
});

test('a claimant states its coverage start only once every stream of the shard has had data', (t) => {
  const clock = new ManualClock(T0);
  const shard: Shard = {
    ...SHARD,
    streams: [...SHARD.streams, { exchange: 'binance', symbol: 'btcusdt', type: 'book_ticker' }],
  };
  const options = { relayId: 'r', limits: LIMITS, maxInFlightBytes: 1 << 30, tickIntervalMs: 3_600_000 };
  const feed = new FakeFeed();
  const held = new FleetShard(shard, feed, new FakePublisher(), clock, new MemoryLogger(), options, 1 << 20);
  void held.start();
  t.teardown(() => held.stop());
  send(clock, 1, [feed]);
  t.is(held.bufferFrom(), T0 + 100, 'the buffer covers the trades');
  t.is(held.claimFrom(), null, 'the quotes have not opened coverage yet: a claim now would understate');
  t.false(mayClaimFirst(held.claimFrom(), 1_000, 5_000));
  clock.time = T0 + 700;
  feed.push({
    kind: 'tick',
    tick: {
      type: 'book_ticker',
      exchange: 'binance',
      symbol: 'btcusdt',
      bidPrice: 1,
      bidAmount: 1,
      askPrice: 2,
      askAmount: 1,
      ts: clock.time * 1000,
      localTs: clock.time * 1000,
      updateId: '7',
    },
  });
  t.is(held.claimFrom(), T0 + 700, 'from the latest stream start');
});
