import test, { type ExecutionContext } from 'ava';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { RelayService, type RelayOptions } from '../../functions/core/relay/relay-service.ts';
import { DEFAULT_BUNDLE_LIMITS } from '../../functions/core/relay/bundler.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import type { QuoteTick, Tick } from '../../functions/core/model/tick.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';
import { FakeFeed } from '../support/doubles/tick-feed.ts';
import { FakePublisher } from '../support/doubles/tick-publisher.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { trade } from '../support/ticks.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const key = (symbol: string, type: StreamKey['type'] = 'trade'): StreamKey => ({
  exchange: 'binance',
  symbol,
  type,
});
const limits = { maxTicks: 1000, maxBytes: 1 << 20, maxWaitMs: 100, heartbeatMs: 1000 };

function setup(t: ExecutionContext, streams: StreamKey[], options: Partial<RelayOptions> = {}) {
  const clock = new ManualClock(T0);
  const feed = new FakeFeed();
  const publisher = new FakePublisher();
  const logger = new MemoryLogger();
  const relay = new RelayService(feed, publisher, clock, logger, {
    relayId: 'r1',
    streams,
    limits,
    maxInFlightBytes: 1 << 30,
    tickIntervalMs: 3_600_000, // the tests drive cuts with relay.tick()
    ...options,
  });
  void relay.start();
  t.teardown(() => relay.stop());
  return { clock, feed, publisher, logger, relay };
}

/** A trade of `symbol` received at `ms`. */
const tradeAt = (symbol: string, n: number, ms: number): Tick =>
  trade(n, { symbol, localTs: ms * 1000 + 250 });
const quoteAt = (symbol: string, u: number, ms: number): QuoteTick => ({
  type: 'book_ticker',
  exchange: 'binance',
  symbol,
  bidPrice: 1,
  bidAmount: 1,
  askPrice: 2,
  askAmount: 1,
  ts: ms * 1000,
  localTs: ms * 1000 + 100,
  updateId: String(u),
});
const settle = () => new Promise((r) => setImmediate(r));
const windowsOf = (batches: Batch[], symbol: string, type = 'trade') =>
  batches
    .filter((b) => b.stream.symbol === symbol && b.stream.type === type)
    .map((b) => [b.window.from, b.window.to]);

test('the first tick of a type opens coverage for every symbol of that type, and only that type', (t) => {
  const { clock, feed, relay } = setup(t, [key('btcusdt'), key('ethusdt'), key('btcusdt', 'book_ticker')]);
  clock.time = T0 + 5;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 1, T0 + 3) });
  const status = Object.fromEntries(relay.status().map((s) => [s.stream, s]));
  t.is(status['binance:btcusdt:trade']!.coveringSince, T0 + 3);
  t.is(status['binance:ethusdt:trade']!.coveringSince, T0 + 3, 'the quiet symbol is covered too');
  t.false(
    status['binance:btcusdt:book_ticker']!.covering,
    'a trade proves nothing about the quote subscription',
  );
  t.false(status['binance:btcusdt:book_ticker']!.subscribed);
});

test('windows tile from the first tick to shutdown and every tick is published exactly once', async (t) => {
  const { clock, feed, publisher, relay } = setup(t, [key('btcusdt'), key('ethusdt')]);
  const random = seededRandom(7);
  let n = 0;
  for (let i = 0; i < 3000; i++) {
    clock.advance(Math.floor(random() * 3));
    if (random() < 0.7) {
      const symbol = random() < 0.8 ? 'btcusdt' : 'ethusdt';
      feed.push({ kind: 'tick', tick: tradeAt(symbol, n++, clock.time) });
    } else relay.tick();
  }
  clock.advance(1); // a signal in the millisecond of the last tick would leave that tick outside the claim
  await relay.stop();
  for (const symbol of ['btcusdt', 'ethusdt']) {
    const windows = windowsOf(publisher.published, symbol);
    for (let i = 1; i < windows.length; i++) t.is(windows[i]![0], windows[i - 1]![1], `${symbol} tiles`);
    for (const b of publisher.published.filter((x) => x.stream.symbol === symbol)) {
      for (const tick of b.ticks) {
        const ms = Math.floor(tick.localTs / 1000);
        t.true(ms >= b.window.from && ms < b.window.to, 'each tick inside its window');
      }
    }
  }
  const ids = publisher.published.flatMap((b) => b.rowIds);
  t.is(ids.length, n);
  t.is(new Set(ids).size, n);
  t.is(relay.counters.ticksIn, n);
  t.is(relay.counters.ticksPublished, n);
  t.is(publisher.closed, 1, 'the publisher is flushed once');
});

test('a disconnect closes coverage after the last message; it reopens at the first message after reconnect', async (t) => {
  const { clock, feed, publisher, relay, logger } = setup(t, [key('btcusdt'), key('ethusdt')]);
  clock.time = T0 + 10;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 1, T0 + 10) });
  clock.time = T0 + 400;
  feed.push({ kind: 'tick', tick: tradeAt('ethusdt', 2, T0 + 400) });
  clock.time = T0 + 900;
  // tardis-dev stamps the disconnect with the receive time of the connection's last message.
  feed.push({ kind: 'disconnect', exchange: 'binance', symbols: undefined, at: T0 + 400 });
  t.false(relay.status().some((s) => s.covering));
  clock.time = T0 + 5000;
  relay.tick();
  feed.push({ kind: 'tick', tick: tradeAt('ethusdt', 3, T0 + 5000) });
  clock.time = T0 + 5200;
  await relay.stop();
  t.deepEqual(windowsOf(publisher.published, 'btcusdt'), [
    [T0 + 10, T0 + 401],
    [T0 + 5000, T0 + 5001],
  ]);
  t.deepEqual(windowsOf(publisher.published, 'ethusdt'), [
    [T0 + 10, T0 + 401],
    [T0 + 5000, T0 + 5001],
  ]);
  t.is(relay.counters.disconnects, 1);
  t.like(logger.with('exchange connection lost')[0]?.fields, { exchange: 'binance', closedAt: T0 + 401 });
});

test('a silent socket gets no heartbeat past its last message: the stale time stays uncovered', async (t) => {
  const { clock, feed, publisher, relay } = setup(t, [key('btcusdt')]);
  clock.time = T0;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 1, T0) });
  for (let ms = 100; ms <= 9000; ms += 100) {
    clock.time = T0 + ms;
    relay.tick();
  }
  t.deepEqual(
    windowsOf(publisher.published, 'btcusdt'),
    [[T0, T0 + 1]],
    'nothing claimed after the last message',
  );
  // tardis-dev's stale check terminates the socket and reports the disconnect at the last message.
  feed.push({ kind: 'disconnect', exchange: 'binance', symbols: undefined, at: T0 });
  await relay.stop();
  t.deepEqual(windowsOf(publisher.published, 'btcusdt'), [[T0, T0 + 1]]);
});

test('a quiet stream sends an empty heartbeat every second while its exchange shows life', async (t) => {
  const { clock, feed, publisher, relay } = setup(t, [key('btcusdt'), key('xrpusdt')]);
  for (let ms = 0; ms <= 3500; ms += 50) {
    clock.time = T0 + ms;
    feed.push({ kind: 'tick', tick: tradeAt('btcusdt', ms, T0 + ms) });
    relay.tick();
  }
  await settle();
  const quiet = publisher.published.filter((b) => b.stream.symbol === 'xrpusdt');
  t.true(quiet.length >= 3);
  t.true(quiet.every((b) => b.ticks.length === 0 && b.window.to - b.window.from <= 1000));
  t.is(relay.counters.heartbeatsOut, quiet.length);
});

test('a failed publish leaves exactly its window uncovered, logged and counted; the next window starts at its end', async (t) => {
  const { clock, feed, publisher, relay, logger } = setup(t, [key('btcusdt')]);
  clock.time = T0;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 1, T0) });
  clock.time = T0 + 150;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 2, T0 + 150) });
  relay.tick(); // cuts [T0, T0+150)
  publisher.mode = 'fail';
  clock.time = T0 + 300;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 3, T0 + 300) });
  relay.tick(); // cuts [T0+150, T0+300): fails
  await settle();
  publisher.mode = 'ok';
  clock.time = T0 + 450;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 4, T0 + 450) });
  relay.tick();
  clock.time = T0 + 451;
  await relay.stop();
  t.deepEqual(windowsOf(publisher.published, 'btcusdt'), [
    [T0, T0 + 150],
    [T0 + 300, T0 + 450],
    [T0 + 450, T0 + 451],
  ]);
  const [lost] = logger.with('publish failed');
  t.like(lost, {
    severity: 'ERROR',
    fields: { stream: 'binance:btcusdt:trade', windowFrom: T0 + 150, windowTo: T0 + 300, ticks: 1 },
  });
  t.like(relay.counters, { publishFailures: 1, ticksLostPublish: 1, uncoveredMs: 150 });
});

test('past the in-flight bound a batch is dropped at once with its window logged; intake never blocks', async (t) => {
  const { clock, feed, publisher, relay, logger } = setup(t, [key('btcusdt')], { maxInFlightBytes: 600 });
  publisher.mode = 'hang';
  for (let i = 0; i < 10; i++) {
    clock.time = T0 + i * 150;
    feed.push({ kind: 'tick', tick: tradeAt('btcusdt', i, clock.time) });
    relay.tick();
  }
  t.true(relay.counters.backpressureDrops > 0);
  t.true(relay.counters.inFlightBytes <= 600);
  const drops = logger.with('publisher backlog full');
  t.is(drops.length, relay.counters.backpressureDrops);
  t.true(
    drops.every((d) => typeof d.fields.windowFrom === 'number' && typeof d.fields.windowTo === 'number'),
  );
  t.is(relay.counters.ticksIn, 10, 'every tick was taken in');
  for (const p of publisher.pending) p.resolve();
  publisher.mode = 'ok';
  await relay.stop();
  t.is(
    relay.counters.ticksPublished + relay.counters.ticksLostBackpressure,
    10,
    'each tick published or lost, loudly',
  );
});

test('stop ends intake, closes at the last evidence, publishes everything received and waits for it', async (t) => {
  const { clock, feed, publisher, relay } = setup(t, [key('btcusdt')]);
  publisher.mode = 'hang';
  clock.time = T0;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 1, T0) });
  clock.time = T0 + 20;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 2, T0 + 20) });
  // The signal comes in the same millisecond as the last tick: the window ends before that millisecond
  // (more messages stamped T0+20 might exist), but the tick itself is still published.
  const stopping = relay.stop();
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 3, T0 + 20) });
  let done = false;
  void stopping.then(() => (done = true));
  await settle();
  t.false(done, 'waits for the publish in flight');
  t.is(publisher.pending.length, 1);
  publisher.pending[0]!.resolve();
  await stopping;
  const [batch] = publisher.published;
  t.deepEqual(batch!.window, { from: T0, to: T0 + 20 });
  t.is(batch!.ticks.length, 2);
  t.is(relay.counters.ticksAfterStop, 1, 'a tick delivered after the signal is counted, not claimed');
  t.false(relay.status()[0]!.covering);
});

test('quotes get their row id from the exchange update id', async (t) => {
  const { clock, feed, publisher, relay } = setup(t, [key('btcusdt', 'book_ticker')]);
  clock.time = T0 + 1;
  feed.push({ kind: 'tick', tick: quoteAt('btcusdt', 400900217, T0) });
  await relay.stop();
  t.deepEqual(publisher.published[0]!.rowIds, ['binance:btcusdt:q:400900217']);
  t.is((publisher.published[0]!.ticks[0] as QuoteTick).updateId, '400900217');
});

test('first coverage is reported once per stream; ticks of other streams are ignored but keep the exchange alive', async (t) => {
  const first: string[] = [];
  const { clock, feed, publisher, relay } = setup(t, [key('btcusdt'), key('ethusdt', 'book_ticker')], {
    onFirstCoverage: (s, at) => first.push(`${s.symbol}:${s.type}@${at - T0}`),
  });
  clock.time = T0 + 2;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 1, T0 + 1) });
  feed.push({ kind: 'disconnect', exchange: 'binance', symbols: undefined, at: T0 + 1 });
  clock.time = T0 + 50;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 2, T0 + 50) });
  feed.push({ kind: 'tick', tick: quoteAt('ethusdt', 9, T0 + 50) });
  feed.push({ kind: 'tick', tick: tradeAt('solusdt', 3, T0 + 2000) });
  t.deepEqual(first, ['btcusdt:trade@1', 'ethusdt:book_ticker@50']);
  t.is(relay.counters.ticksIgnored, 1);
  clock.time = T0 + 2001;
  relay.tick();
  t.deepEqual(windowsOf(publisher.published, 'ethusdt', 'book_ticker').at(-1), [T0 + 50, T0 + 2001]);
  await relay.stop();
});

test('with a 25 ms poll, a tick is cut within maxWaitMs of its arrival, never later', async (t) => {
  // The batch's own wait: its bundle is sent on the poll that cuts it (relay-bundle-wait.test.ts adds the bundle's).
  const bundleLimits = { ...DEFAULT_BUNDLE_LIMITS, maxWaitMs: 0 };
  const { clock, feed, publisher, relay } = setup(t, [key('btcusdt')], { tickIntervalMs: 25, bundleLimits });
  clock.time = T0;
  feed.push({ kind: 'tick', tick: tradeAt('btcusdt', 1, T0) });
  for (const ms of [25, 50]) {
    clock.time = T0 + ms;
    relay.tick();
  }
  await settle();
  t.is(publisher.published.length, 0, 'not yet: 50 ms waited');
  clock.time = T0 + 75;
  relay.tick(); // the next poll would be at 100 ms, already the limit: cut now
  await settle();
  // Cut at 75 ms; the window claims only up to the last evidence from the exchange (the tick, + 1 ms).
  t.deepEqual(windowsOf(publisher.published, 'btcusdt'), [[T0, T0 + 1]]);
});
