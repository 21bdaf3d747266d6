import test from 'ava';
import {
  fleetProblems,
  summarizeFleet,
  type FleetSnapshot,
  type MemberRecord,
  type MemberShard,
} from '../../scripts/ops/fleet-state.ts';
import { waitForFleet } from '../../scripts/release/fleet-gate.ts';
import { formatFleet } from '../../scripts/ops/fleet.ts';

const LEASE = 5_000;
const NOW = 1_000_000;

const primary = (epoch: number, publishedTo: number): MemberShard => ({
  role: 'primary',
  epoch,
  publishedTo,
  bufferFrom: null,
  rank: 0,
});
const standby: MemberShard = {
  role: 'standby',
  epoch: null,
  publishedTo: null,
  bufferFrom: NOW - 9000,
  rank: 1,
};

function member(id: string, pool: string, shards: Record<string, MemberShard>, ageMs = 500): MemberRecord {
  return { memberId: id, pool, beat: 7, leaving: false, shards, updateTime: NOW - ageMs };
}

/** Two shards; a (pool a) is primary of binance/0, b (pool b) of binance/1, each the other's standby. */
function healthy(): FleetSnapshot {
  return {
    readTime: NOW,
    members: [
      member('a', 'a', { 'binance/0': primary(3, NOW - 400), 'binance/1': standby }),
      member('b', 'b', { 'binance/1': primary(1, NOW - 700), 'binance/0': standby }),
    ],
    shards: [
      { shard: 'binance/0', holder: 'a', epoch: 3, publishedTo: NOW - 60_000, takenAt: 0, reason: 'expired' },
      { shard: 'binance/1', holder: 'b', epoch: 1, publishedTo: 0, takenAt: 0, reason: 'first' },
    ],
  };
}

test('a healthy fleet: each shard has its confirmed primary, a standby and the lag of its report', (t) => {
  const view = summarizeFleet(healthy(), LEASE);
  t.deepEqual(
    view.shards.map((s) => [
      s.shard,
      s.primary,
      s.epoch,
      s.primaryLive,
      s.standbys.map((b) => b.id),
      s.lagMs,
    ]),
    [
      ['binance/0', 'a', 3, true, ['b'], 400],
      ['binance/1', 'b', 1, true, ['a'], 700],
    ],
  );
  t.deepEqual(
    view.members.map((m) => [m.id, m.pool, m.live, m.primaries, m.standbys]),
    [
      ['a', 'a', true, 1, 1],
      ['b', 'b', true, 1, 1],
    ],
  );
  t.deepEqual(fleetProblems(view, true), []);
});

test('a member not renewed within the lease (server times) is dead, and so is the primary it was', (t) => {
  const snapshot = healthy();
  const stale = {
    ...snapshot,
    members: [member('a', 'a', snapshot.members[0]!.shards, LEASE + 1), snapshot.members[1]!],
  };
  const view = summarizeFleet(stale, LEASE);
  t.false(view.members[0]!.live);
  t.false(view.shards[0]!.primaryLive);
  t.is(view.shards[0]!.lagMs, 60_000, "the record's replay point when the holder is not confirmed");
  t.deepEqual(fleetProblems(view, true), [
    'binance/0: primary a (epoch 3) is not live or does not report it',
    'binance/1: no live standby outside pool "b" (primary b)',
  ]);
});

test('a holder reporting another epoch, or a leaving member, is not a live primary', (t) => {
  const snapshot = healthy();
  const behind = member('a', 'a', { 'binance/0': primary(2, NOW), 'binance/1': standby });
  t.false(
    summarizeFleet({ ...snapshot, members: [behind, snapshot.members[1]!] }, LEASE).shards[0]!.primaryLive,
  );
  const leaving = { ...snapshot.members[0]!, leaving: true };
  const view = summarizeFleet({ ...snapshot, members: [leaving, snapshot.members[1]!] }, LEASE);
  t.false(view.shards[0]!.primaryLive);
  t.true(view.members[0]!.leaving);
});

test("a standby in the primary's own pool counts only when pools need not differ", (t) => {
  const snapshot: FleetSnapshot = {
    readTime: NOW,
    members: [
      member('a1', 'a', { 'binance/0': primary(1, NOW) }),
      member('a2', 'a', { 'binance/0': standby }),
    ],
    shards: [{ shard: 'binance/0', holder: 'a1', epoch: 1, publishedTo: 0, takenAt: 0, reason: '' }],
  };
  const view = summarizeFleet(snapshot, LEASE);
  t.deepEqual(fleetProblems(view, false), []);
  t.deepEqual(fleetProblems(view, true), ['binance/0: no live standby outside pool "a" (primary a1)']);
});

test('an expected shard that no record names has no primary', (t) => {
  const view = summarizeFleet(healthy(), LEASE, ['binance/0', 'binance/1', 'coinbase/0']);
  t.deepEqual(fleetProblems(view, true), ['coinbase/0: no primary has taken it']);
});

test('the gate waits until the fleet is whole, and refuses with the last problems when time runs out', async (t) => {
  const broken = { ...healthy(), shards: healthy().shards.slice(0, 1) };
  const reads = [broken, broken, healthy()];
  const lines: string[] = [];
  const options = { shardIds: ['binance/0', 'binance/1'], leaseMs: LEASE, distinctPools: true, pollMs: 1 };
  const ok = await waitForFleet(
    async () => reads.shift()!,
    { ...options, waitMs: 60_000 },
    (l) => lines.push(l),
  );
  t.deepEqual(ok, []);
  t.is(lines.length, 1, 'an unchanged problem is logged once');

  const failing = await waitForFleet(
    async () => {
      throw new Error('UNAVAILABLE');
    },
    { ...options, waitMs: 0 },
    () => {},
  );
  t.deepEqual(failing, ['the fleet could not be read: UNAVAILABLE']);
});

test('ops fleet prints members, then shards with primary, epoch, standbys and lag, then the problems', (t) => {
  const view = summarizeFleet(healthy(), LEASE, ['binance/0', 'binance/1', 'coinbase/0']);
  const text = formatFleet(view, fleetProblems(view, true));
  t.regex(text, /2 members \(2 live\), 3 shards/);
  t.regex(text, /^a\s+a\s+yes\s+500ms ago\s+1\s+1\s+0$/m);
  t.regex(text, /^binance\/0\s+a\s+3\s+yes\s+b\s+\S+Z\s+400ms$/m);
  t.regex(text, /^coinbase\/0\s+-\s+-\s+no\s+-\s+-\s+-$/m);
  t.regex(text, /problems:\n {2}coinbase\/0: no primary has taken it$/);
});
