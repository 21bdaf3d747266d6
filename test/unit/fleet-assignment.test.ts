import test from 'ava';
import {
  assignReplicas,
  loadPerMember,
  replicaRank,
  type Assignment,
} from '../../functions/core/fleet/assignment.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';

// Bounds measured on other seeds (docs/decisions/0021); these seeds were not used to set them.
const SEEDS = [0x51f7, 0xa11ce, 0xf1ee7, 0x2026, 0x7e57];
const SHARDS = Array.from({ length: 64 }, (_, i) => `binance/${i}`);

/** `n` random instance ids, as relays name themselves. */
function members(n: number, random: () => number): string[] {
  return Array.from({ length: n }, () => `relay-${Math.floor(random() * 2 ** 32).toString(16)}`);
}

/** Replica slots (shard, member) that one assignment has and the other has not. */
function slotsOnlyIn(a: Assignment, b: Assignment): Array<[string, string]> {
  return [...a].flatMap(([shard, held]) =>
    held.filter((m) => !b.get(shard)!.includes(m)).map((m) => [shard, m] as [string, string]),
  );
}

test('each shard gets R distinct replicas, ranked the same whatever the member order', (t) => {
  const fleet = members(6, seededRandom(SEEDS[0]!));
  const assignment = assignReplicas(SHARDS, fleet, 2);
  t.deepEqual(assignReplicas([...SHARDS].reverse(), [...fleet].reverse(), 2), assignment);
  t.deepEqual(assignReplicas(SHARDS, [...fleet, fleet[0]!], 2), assignment, 'a repeated member counts once');
  for (const shard of SHARDS) {
    const held = assignment.get(shard)!;
    t.is(held.length, 2);
    t.not(held[0], held[1]);
    t.is(replicaRank(assignment, shard, held[0]!), 0);
    t.is(replicaRank(assignment, shard, held[1]!), 1);
  }
  const outsider = fleet.find((m) => !assignment.get('binance/0')!.includes(m))!;
  t.is(replicaRank(assignment, 'binance/0', outsider), undefined);
  t.is(replicaRank(assignment, 'binance/999', fleet[0]!), undefined);
});

test('64 shards over 3 to 10 members: no member holds over twice its share, none holds nothing', (t) => {
  for (const seed of SEEDS) {
    const random = seededRandom(seed);
    for (let n = 3; n <= 10; n++) {
      const fleet = members(n, random);
      const load = [...loadPerMember(assignReplicas(SHARDS, fleet, 2), fleet).values()];
      const replicas = load.map((l) => l.replicas);
      const primaries = load.map((l) => l.primaries);
      t.is(
        replicas.reduce((a, b) => a + b),
        128,
      );
      t.is(
        primaries.reduce((a, b) => a + b),
        64,
      );
      t.true(Math.max(...replicas) <= (2 * 128) / n, `seed ${seed}, ${n} members: ${replicas.join(',')}`);
      t.true(Math.min(...replicas) >= 1, `seed ${seed}, ${n} members: ${replicas.join(',')}`);
      t.true(Math.max(...primaries) <= (2.5 * 64) / n, `seed ${seed}, ${n} members: ${primaries.join(',')}`);
    }
  }
});

test('a member joining takes about 1/N of the slots, each from a member that stays, none between two others', (t) => {
  for (const seed of SEEDS) {
    const random = seededRandom(seed ^ 0x10);
    for (let n = 3; n <= 9; n++) {
      const before = members(n, random);
      const joiner = `relay-joiner-${seed}-${n}`;
      const old = assignReplicas(SHARDS, before, 2);
      const now = assignReplicas(SHARDS, [...before, joiner], 2);
      const gained = slotsOnlyIn(now, old);
      t.true(
        gained.every(([, m]) => m === joiner),
        'only the joiner gains a slot',
      );
      t.is(slotsOnlyIn(old, now).length, gained.length, 'each slot it takes is one another member gives up');
      // Each shard takes the joiner with probability R / (N + 1): allow 4 binomial sd.
      const p = 2 / (n + 1);
      const expected = 64 * p;
      t.true(
        gained.length <= expected + 4 * Math.sqrt(64 * p * (1 - p)),
        `${gained.length} moved, ~${expected}`,
      );
      for (const shard of SHARDS) {
        if (now.get(shard)![0] !== old.get(shard)![0])
          t.is(now.get(shard)![0], joiner, 'a primary changes only to the joiner');
      }
    }
  }
});

test('a member leaving gives up only its own slots, each to one other member', (t) => {
  for (const seed of SEEDS) {
    const random = seededRandom(seed ^ 0x20);
    for (let n = 4; n <= 10; n++) {
      const before = members(n, random);
      const leaver = before[Math.floor(random() * n)]!;
      const old = assignReplicas(SHARDS, before, 2);
      const now = assignReplicas(
        SHARDS,
        before.filter((m) => m !== leaver),
        2,
      );
      const lost = slotsOnlyIn(old, now);
      t.true(
        lost.every(([, m]) => m === leaver),
        'only the leaver loses a slot',
      );
      t.is(
        lost.length,
        loadPerMember(old, before).get(leaver)!.replicas,
        'every slot it held moves, nothing else',
      );
      t.is(slotsOnlyIn(now, old).length, lost.length);
      for (const shard of SHARDS) {
        const [wasPrimary, wasSecond] = old.get(shard)!;
        const primary = now.get(shard)![0];
        t.is(primary, wasPrimary === leaver ? wasSecond : wasPrimary, 'the second replica becomes preferred');
      }
    }
  }
});

test('R defaults to 2; with fewer members than R a shard gets every member, and with none no member', (t) => {
  t.true(
    [...assignReplicas(SHARDS, ['relay-a', 'relay-b', 'relay-c']).values()].every(
      (held) => held.length === 2,
    ),
  );
  const single = assignReplicas(SHARDS, ['relay-a']);
  t.true([...single.values()].every((held) => held.length === 1 && held[0] === 'relay-a'));
  const pair = assignReplicas(SHARDS, ['relay-a', 'relay-b'], 3);
  t.true([...pair.values()].every((held) => held.length === 2));
  t.true([...assignReplicas(SHARDS, [], 2).values()].every((held) => held.length === 0));
  t.throws(() => assignReplicas(SHARDS, ['relay-a'], 0), { message: /replicas must be an integer >= 1/ });
});

test('the rendezvous ranking is pinned: instances of two releases must assign alike', (t) => {
  const assignment = assignReplicas(
    ['binance/0', 'binance/1', 'coinbase/0'],
    ['relay-a', 'relay-b', 'relay-c', 'relay-d'],
  );
  t.deepEqual(
    [...assignment],
    [
      ['binance/0', ['relay-d', 'relay-c']],
      ['binance/1', ['relay-a', 'relay-c']],
      ['coinbase/0', ['relay-d', 'relay-a']],
    ],
  );
});
