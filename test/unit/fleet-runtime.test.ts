import test from 'ava';
import type { SealedBatch } from '../../functions/core/contract/batch.ts';
import { assignReplicas, assignReplicasInPools } from '../../functions/core/fleet/assignment.ts';
import { MemberWatch } from '../../functions/core/fleet/members.ts';
import { decideOwnership, type Observation } from '../../functions/core/fleet/ownership.ts';
import type { MemberRecord } from '../../functions/core/fleet/store.ts';
import { StreamBatcher } from '../../functions/core/relay/batcher.ts';
import { FleetReporter } from '../../functions/core/relay/fleet-reporter.ts';
import { ReplayBuffer } from '../../functions/core/relay/replay-buffer.ts';
import type { StreamState } from '../../functions/core/relay/stream-registry.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryLeaseStore } from '../support/doubles/lease-store.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';

const LIMITS = { maxTicks: 1000, maxBytes: 1 << 20, maxWaitMs: 100, heartbeatMs: 1000 };

function stream(symbol: string): StreamState {
  const key = { exchange: 'binance', symbol, type: 'trade' } as const;
  return {
    key,
    id: `binance:${symbol}:trade`,
    batcher: new StreamBatcher(key, 'r', LIMITS),
    subscribed: true,
    ticksIn: 0,
    lastTickAt: Number.NaN,
    coveredTo: null,
    lastPublishAt: null,
  };
}

/** A batch of `bytes` encoded bytes over [from, to). */
function batch(from: number, to: number, bytes = 100, count = 1): SealedBatch {
  return {
    stream: { exchange: 'binance', symbol: 'x', type: 'trade' },
    seq: from,
    window: { from, to },
    count,
    message: { data: Buffer.alloc(bytes), attributes: {} },
  };
}

test('the replay buffer keeps what the primary has not published, and replays from publishedTo', (t) => {
  const a = stream('a');
  a.batcher.open(1_000);
  const buffer = new ReplayBuffer(10_000);
  for (let from = 1_000; from < 2_000; from += 100) buffer.add(batch(from, from + 100), a);
  t.is(buffer.size, 10);
  buffer.prune(1_450); // the primary published up to 1450: batches ending by then go
  t.is(buffer.size, 6);
  t.is(buffer.bytes, 600);
  const replay = buffer.take(1_450);
  t.deepEqual(
    replay.map((h) => h.batch.window.from),
    [1_400, 1_500, 1_600, 1_700, 1_800, 1_900],
    'from the batch holding publishedTo on, in the order cut',
  );
  t.is(buffer.size, 0);
  t.is(buffer.bytes, 0);
});

test('a full replay buffer drops the oldest batches first and counts them; its coverage start moves up', (t) => {
  const a = stream('a');
  a.batcher.open(0);
  const buffer = new ReplayBuffer(350);
  for (let from = 0; from < 500; from += 100) buffer.add(batch(from, from + 100, 100, 7), a);
  t.is(buffer.size, 3);
  t.deepEqual(buffer.overflow, { batches: 2, ticks: 14, bytes: 200 });
  // The open window started at 0; the buffer now tiles [200, 500) and the batcher's window continues it.
  a.batcher.close(500);
  a.batcher.open(500);
  t.is(buffer.coveredFrom([a]), 200);
});

test("the buffer's coverage is the latest start over subscribed streams, and null when one is not covering", (t) => {
  const a = stream('a');
  const b = stream('b');
  const never = stream('c');
  never.subscribed = false; // no replica has coverage of it to lose
  const buffer = new ReplayBuffer(1 << 20);
  a.batcher.open(1_000);
  b.batcher.open(1_300);
  buffer.add(batch(1_000, 1_100), a);
  t.is(buffer.coveredFrom([a, b, never]), 1_300, 'b only covers since 1300');
  // a disconnect breaks a's run: coverage starts again where its window reopened.
  buffer.add(batch(1_100, 1_200), a);
  buffer.add(batch(1_500, 1_600), a);
  a.batcher.close(1_600); // the batcher's open window continues where the last cut ended
  a.batcher.open(1_600);
  t.is(buffer.coveredFrom([a]), 1_500);
  a.batcher.close(1_650);
  a.batcher.open(1_700); // reopened after a gap not in the buffer: coverage starts there
  t.is(buffer.coveredFrom([a]), 1_700);
  b.batcher.close(1_700);
  t.is(buffer.coveredFrom([a, b]), null, 'b is not covering now');
});

function member(memberId: string, beat: number, over: Partial<MemberRecord> = {}): MemberRecord {
  return { memberId, pool: '', startedAt: 0, renewedAt: 0, beat, leaving: false, shards: {}, ...over };
}

test('a member is dead once its heartbeat stood unchanged for the dead time, timed locally', (t) => {
  const watch = new MemberWatch('self', 5_000);
  // Its clock says the far future; only whether `beat` changes counts.
  watch.observe([member('a', 1, { renewedAt: 9e15 }), member('b', 1)], 0);
  t.deepEqual([...watch.assignable(4_999, 'p', false).keys()].sort(), ['a', 'b', 'self']);
  watch.observe([member('a', 2), member('b', 1)], 4_000);
  t.deepEqual([...watch.assignable(5_000, 'p', false).keys()].sort(), ['a', 'self'], 'b stood 5 s');
  watch.observe([member('a', 2, { leaving: true })], 5_500);
  t.deepEqual(
    [...watch.assignable(5_600, 'p', false).keys()],
    ['self'],
    'leaving and deleted members get nothing',
  );
  t.true(watch.isAlive('a', 5_600), 'a leaving member is still alive (it publishes until handed over)');
  t.deepEqual(
    [...watch.assignable(5_600, 'p', true).keys()],
    [],
    'leaving itself, this member takes nothing',
  );
});

test('replicas go to distinct pools when the members span them, and rank 0 stays the best score', (t) => {
  const shards = Array.from({ length: 64 }, (_, i) => `binance/${i}`);
  const poolOf = new Map([
    ['a1', 'a'],
    ['a2', 'a'],
    ['a3', 'a'],
    ['b1', 'b'],
    ['b2', 'b'],
  ]);
  const plain = assignReplicas(shards, [...poolOf.keys()], 2);
  const pooled = assignReplicasInPools(shards, poolOf, 2);
  for (const shard of shards) {
    const held = pooled.get(shard)!;
    t.is(held.length, 2);
    t.not(poolOf.get(held[0]!), poolOf.get(held[1]!), `${shard}: one replica per pool`);
    t.is(held[0], plain.get(shard)![0], `${shard}: the preferred primary is unchanged`);
  }
  const onePool = new Map([...poolOf.keys()].map((m) => [m, 'only']));
  t.deepEqual(assignReplicasInPools(shards, onePool, 2), plain, 'one pool: plain rendezvous');
  t.is(assignReplicasInPools(shards, new Map([['a1', 'a']]), 2).get('binance/0')!.length, 1);
});

test('a planned handover lets the preferred standby take over at once; without it, it waits a lease', (t) => {
  const observed: Observation = {
    kind: 'record',
    record: { holder: 'old', epoch: 3, publishedTo: 1_000, renewedAt: 5 },
  };
  const view = { self: 'new', rank: 0, coveredTo: 0, sinceChangeMs: 100, leaseMs: 5_000 };
  t.is(decideOwnership({ role: 'standby' }, observed, view).action, 'stand-by');
  t.like(decideOwnership({ role: 'standby' }, observed, { ...view, handover: true }), {
    action: 'take-over',
    expectEpoch: 3,
    epoch: 4,
    replayFrom: 1_000,
  });
  // The old holder keeps publishing until the new epoch has published past its coverage.
  const old = { self: 'old', rank: 1, coveredTo: 1_900, sinceChangeMs: 0, leaseMs: 5_000 };
  const taken = (publishedTo: number): Observation => ({
    kind: 'record',
    record: { holder: 'new', epoch: 4, publishedTo, renewedAt: 6 },
  });
  const yielding = decideOwnership({ role: 'primary', epoch: 3 }, taken(1_000), old);
  t.like(yielding, { action: 'publish', next: { role: 'yielding', epoch: 3, until: 1_900 } });
  t.is(decideOwnership(yielding.next, taken(1_950), { ...old, coveredTo: 2_500 }).action, 'step-down');
});

test('the fleet-wide reporter role is held by a lease: one member reports, another takes over when it goes', async (t) => {
  const clock = new ManualClock();
  const leases = new MemoryLeaseStore(clock);
  const logger = new MemoryLogger();
  const options = { intervalMs: 1_000, ttlMs: 3_000 };
  const unowned = () => ['binance/3'];
  const a = new FleetReporter(leases, unowned, logger.child({ member: 'a' }), { ...options, self: 'a' });
  const b = new FleetReporter(leases, unowned, logger.child({ member: 'b' }), { ...options, self: 'b' });
  await a.tick();
  await b.tick();
  const reports = () => logger.with('fleet shards without a live primary').map((e) => e.fields.member);
  t.deepEqual(reports(), ['a'], 'only the holder reports');
  t.like(logger.with('fleet shards')[0]!.fields, { event: 'fleet_shard_unowned', shards: ['binance/3'] });
  clock.advance(3_000); // a went silent for the whole lease
  await b.tick();
  await a.tick();
  t.deepEqual(reports(), ['a', 'b']);
  await b.stop(); // a clean stop releases the role at once
  await a.tick();
  t.deepEqual(reports(), ['a', 'b', 'a']);
  const quiet = new FleetReporter(leases, () => [], logger, { ...options, self: 'a' });
  await quiet.tick();
  t.is(reports().length, 3, 'nothing to report: no line');
});
