// The fleet's alerting lines are named signals (functions/core/shared/signals.ts): severity and message from
// the table, `signal` set, and the fields their metrics extract present.
import test from 'ava';
import type { Shard } from '../../functions/core/fleet/shards.ts';
import { FleetReporter } from '../../functions/core/relay/fleet-reporter.ts';
import { FleetShard } from '../../functions/core/relay/fleet-shard.ts';
import { SIGNALS } from '../../functions/core/shared/signals.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryLeaseStore } from '../support/doubles/lease-store.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';
import { FakeFeed } from '../support/doubles/tick-feed.ts';
import { FakePublisher } from '../support/doubles/tick-publisher.ts';
import { trade } from '../support/ticks.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const SHARD: Shard = {
  id: 'binance/1',
  exchange: 'binance',
  index: 1,
  streams: [{ exchange: 'binance', symbol: 'btcusdt', type: 'trade' }],
};

test('a full standby buffer logs relay_replay_overflow once per report, with what it dropped since the last', async (t) => {
  const clock = new ManualClock(T0);
  const logger = new MemoryLogger();
  const feed = new FakeFeed();
  const limits = { maxTicks: 1, maxBytes: 1 << 20, maxWaitMs: 100, heartbeatMs: 1000 };
  const options = { relayId: 'r', limits, maxInFlightBytes: 1 << 30, tickIntervalMs: 3_600_000 };
  const held = new FleetShard(SHARD, feed, new FakePublisher(), clock, logger, options, 1_000);
  void held.start();
  t.teardown(() => held.stop());
  held.reportOverflow();
  t.is(logger.entries.length, 0, 'nothing dropped: no line');
  for (let n = 1; n <= 40; n++) {
    clock.time = T0 + n;
    feed.push({ kind: 'tick', tick: trade(n, { localTs: clock.time * 1000 }) }); // one batch per tick
  }
  held.reportOverflow();
  held.reportOverflow();
  const lines = logger.entries.filter((e) => e.fields.signal === 'relay_replay_overflow');
  t.is(lines.length, 1);
  const line = lines[0]!;
  t.is(line.severity, SIGNALS.relay_replay_overflow.severity);
  t.is(line.message, SIGNALS.relay_replay_overflow.message);
  t.is(line.fields.shard, 'binance/1');
  t.is(line.fields.batches, held.buffer.overflow.batches);
  t.true((line.fields.ticks as number) > 0);
  t.true(held.buffer.bytes <= 1_000, 'the buffer stays within its bound');
});

test('shards without a live primary are the fleet_shard_unowned signal, with the event field kept', async (t) => {
  const clock = new ManualClock(T0);
  const logger = new MemoryLogger();
  const reporter = new FleetReporter(new MemoryLeaseStore(clock), () => ['binance/1'], logger, {
    self: 'a',
    intervalMs: 1_000,
    ttlMs: 3_000,
  });
  await reporter.tick();
  const [line] = logger.entries;
  t.like(line, {
    severity: SIGNALS.fleet_shard_unowned.severity,
    message: SIGNALS.fleet_shard_unowned.message,
  });
  t.like(line!.fields, {
    signal: 'fleet_shard_unowned',
    event: 'fleet_shard_unowned',
    shards: ['binance/1'],
  });
  await reporter.stop();
});
