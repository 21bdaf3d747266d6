// The v4 bundle's cut rule (functions/core/relay/bundler.ts): a bundle is sent when full, or once its first
// batch has waited the bundle wait; everything open is sent on stop and on a fleet shard's step-down.
import test, { type ExecutionContext } from 'ava';
import type { EncodedMessage } from '../../functions/core/contract/batch.ts';
import type { Shard } from '../../functions/core/fleet/shards.ts';
import { Bundler, DEFAULT_BUNDLE_LIMITS } from '../../functions/core/relay/bundler.ts';
import { FleetShard } from '../../functions/core/relay/fleet-shard.ts';
import { RelayService, type RelayOptions } from '../../functions/core/relay/relay-service.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';
import { FakeFeed } from '../support/doubles/tick-feed.ts';
import { batchesOf, FakePublisher } from '../support/doubles/tick-publisher.ts';
import { trade } from '../support/ticks.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const BATCH_LIMITS = { maxTicks: 1000, maxBytes: 1 << 20, maxWaitMs: 100, heartbeatMs: 1000 };
const POLL_MS = 25;
const settle = () => new Promise((r) => setImmediate(r));
const streams = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ exchange: 'binance', symbol: `s${i}usdt`, type: 'trade' as const }));

/** A publisher that also notes the clock time each message reached it. */
class TimedPublisher extends FakePublisher {
  readonly sentAt: { at: number; message: EncodedMessage }[] = [];
  constructor(private readonly clock: ManualClock) {
    super();
  }
  override publish(message: EncodedMessage): Promise<string> {
    this.sentAt.push({ at: this.clock.now(), message });
    return super.publish(message);
  }
}

function setup(t: ExecutionContext, n: number, options: Partial<RelayOptions> = {}) {
  const clock = new ManualClock(T0);
  const feed = new FakeFeed();
  const publisher = new TimedPublisher(clock);
  const relay = new RelayService(feed, publisher, clock, new MemoryLogger(), {
    relayId: 'r1',
    streams: streams(n),
    limits: BATCH_LIMITS,
    maxInFlightBytes: 1 << 30,
    tickIntervalMs: POLL_MS,
    ...options,
  });
  void relay.start();
  t.teardown(() => relay.stop());
  return { clock, feed, publisher, relay };
}

const sealed = (bytes: number) => ({
  stream: { exchange: 'binance', symbol: 'x', type: 'trade' as const },
  seq: 0,
  window: { from: T0, to: T0 + 1 },
  count: 0,
  message: { data: Buffer.alloc(bytes), attributes: {} },
});

test('a bundle is due once its first batch has waited maxWaitMs; later batches do not extend it', (t) => {
  const bundler = new Bundler({ maxBytes: 1 << 20, maxBatches: 100, maxWaitMs: 150 });
  const state = undefined as never;
  t.is(bundler.add(sealed(10), state, T0), undefined);
  t.is(bundler.add(sealed(10), state, T0 + 140), undefined);
  t.deepEqual(bundler.takeDue(T0 + 149), []);
  t.is(bundler.waiting, 2);
  const [due, ...rest] = bundler.takeDue(T0 + 150);
  t.is(due?.entries.length, 2);
  t.is(due?.openedAt, T0);
  t.deepEqual(rest, []);
  t.is(bundler.waiting, 0);
});

test('a full bundle is cut at once, without waiting for its time', async (t) => {
  const bundler = new Bundler({ maxBytes: 1 << 20, maxBatches: 3, maxWaitMs: 60_000 });
  const state = undefined as never;
  t.is(bundler.add(sealed(10), state, T0), undefined);
  t.is(bundler.add(sealed(10), state, T0), undefined);
  t.is(bundler.add(sealed(10), state, T0)?.entries.length, 3, 'the third batch fills it');
  const bytes = new Bundler({ maxBytes: 25, maxBatches: 100, maxWaitMs: 60_000 });
  bytes.add(sealed(20), state, T0);
  t.is(bytes.add(sealed(20), state, T0)?.bytes, 20, 'the next batch would pass maxBytes');

  // Through the relay: 10 streams' batches cut on one poll fill two bundles of 4 at once; 2 wait.
  const bundleLimits = { ...DEFAULT_BUNDLE_LIMITS, maxBatches: 4, maxWaitMs: 60_000 };
  const { clock, feed, publisher, relay } = setup(t, 10, { bundleLimits });
  for (let i = 0; i < 10; i++)
    feed.push({ kind: 'tick', tick: trade(i, { symbol: `s${i}usdt`, localTs: T0 * 1000 }) });
  clock.time = T0 + 100;
  relay.tick();
  await settle();
  t.deepEqual(
    publisher.messages.map((m) => m.attributes.batches),
    ['4', '4'],
  );
});

test('never holds a batch past the bound: a tick is published within the batch wait plus the bundle wait', async (t) => {
  const { clock, feed, publisher, relay } = setup(t, 8);
  const random = seededRandom(19);
  const arrivals = new Map<string, number>();
  const seconds = 5;
  let n = 0;
  for (let ms = 0; ms < seconds * 1000; ms++) {
    clock.time = T0 + ms;
    // Bursts and silences: each stream trades in ~3 % of milliseconds.
    for (let s = 0; s < 8; s++) {
      if (random() >= 0.03) continue;
      const tick = trade(++n, { symbol: `s${s}usdt`, localTs: clock.time * 1000 });
      arrivals.set(tick.id!, clock.time);
      feed.push({ kind: 'tick', tick });
    }
    if (ms % POLL_MS === 0) relay.tick();
  }
  await relay.stop();
  const bound = BATCH_LIMITS.maxWaitMs + DEFAULT_BUNDLE_LIMITS.maxWaitMs;
  let published = 0;
  let longest = 0;
  for (const { at, message } of publisher.sentAt) {
    for (const batch of batchesOf(message.data)) {
      for (const tick of batch.ticks) {
        if (tick.type !== 'trade') continue;
        published++;
        longest = Math.max(longest, at - arrivals.get(tick.id!)!);
      }
    }
  }
  t.is(published, n, 'every tick published');
  t.true(longest <= bound, `a tick waited ${longest} ms, past ${bound}`);
  t.true(longest > BATCH_LIMITS.maxWaitMs, 'the bundle wait is used');
  // Not one message per poll (40/s) but about one per bundle wait.
  const perSecond = publisher.messages.length / seconds;
  t.true(perSecond <= 1000 / (DEFAULT_BUNDLE_LIMITS.maxWaitMs - POLL_MS) + 1, `${perSecond} messages/s`);
});

test('stop sends the open bundle at once, before its wait is over', async (t) => {
  const { clock, feed, publisher, relay } = setup(t, 2);
  feed.push({ kind: 'tick', tick: trade(1, { symbol: 's0usdt', localTs: T0 * 1000 }) });
  clock.time = T0 + 100;
  relay.tick(); // cuts the batch: its bundle waits
  await settle();
  t.is(publisher.messages.length, 0);
  await relay.stop();
  t.is(publisher.messages.length, 1);
  t.is(publisher.published.filter((b) => b.ticks.length > 0).length, 1);
  t.is(relay.counters.inFlightBatches, 0);
});

test("a fleet shard's step-down sends its open bundle under the epoch it was cut in", async (t) => {
  const clock = new ManualClock(T0);
  const feed = new FakeFeed();
  const publisher = new FakePublisher();
  const shard: Shard = { id: 'binance/0', exchange: 'binance', index: 0, streams: streams(1) };
  const options = { relayId: 'r1', limits: BATCH_LIMITS, maxInFlightBytes: 1 << 30, tickIntervalMs: POLL_MS };
  const held = new FleetShard(shard, feed, publisher, clock, new MemoryLogger(), options, 1 << 20);
  void held.start();
  t.teardown(() => held.stop());
  held.promote(7, null);
  feed.push({ kind: 'tick', tick: trade(1, { symbol: 's0usdt', localTs: T0 * 1000 }) });
  clock.time = T0 + 100;
  held.service.tick();
  await settle();
  t.is(publisher.messages.length, 0, 'the bundle waits');
  held.demote();
  await settle();
  t.deepEqual(
    publisher.messages.map((m) => [m.attributes.shard, m.attributes.epoch]),
    [['binance/0', '7']],
  );
});
