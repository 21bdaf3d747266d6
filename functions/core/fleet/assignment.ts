/**
 * Which live members hold which shard: rendezvous (highest-random-weight) hashing. Each shard's replicas are
 * the members with the highest scores hash(shardId|memberId), best first; the first is the preferred
 * primary. A member joining or leaving moves only the slots it takes or held, about 1/N of them.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_FLEET_OPTIONS } from './options.ts';

/** Shard id -> its replicas' member ids, best first (rank 0 is the preferred primary). */
export type Assignment = ReadonlyMap<string, readonly string[]>;

/** The rendezvous score of a member for a shard: a sha256 hex digest, compared as text (same order as its number). */
export function rendezvousScore(shardId: string, memberId: string): string {
  return createHash('sha256').update(`${shardId}|${memberId}`).digest('hex');
}

/**
 * The `replicas` best-scoring members of each shard. With fewer live members than `replicas`, a shard gets
 * every member (fewer replicas); with none, an empty list. Member order and repeats do not matter.
 */
export function assignReplicas(
  shardIds: readonly string[],
  members: readonly string[],
  replicas: number = DEFAULT_FLEET_OPTIONS.replicas,
): Assignment {
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new Error(`replicas must be an integer >= 1, not ${replicas}`);
  const live = [...new Set(members)];
  const assignment = new Map<string, readonly string[]>();
  for (const shard of [...new Set(shardIds)].sort()) {
    const ranked = live
      .map((member) => ({ member, score: rendezvousScore(shard, member) }))
      .sort((a, b) => compare(b.score, a.score) || compare(a.member, b.member));
    assignment.set(
      shard,
      ranked.slice(0, replicas).map((r) => r.member),
    );
  }
  return assignment;
}

/**
 * Like assignReplicas, but a shard's replicas go to distinct pools (deployment units: a rollout or crash
 * loop of one pool then never takes every replica) while the live members span enough pools: each slot
 * takes the best-scoring member of a pool not used yet, then, pools exhausted, the best remaining.
 * Rank 0 is still the best-scoring member. With one pool it is assignReplicas.
 */
export function assignReplicasInPools(
  shardIds: readonly string[],
  poolOf: ReadonlyMap<string, string>,
  replicas: number = DEFAULT_FLEET_OPTIONS.replicas,
): Assignment {
  const ranked = assignReplicas(shardIds, [...poolOf.keys()], poolOf.size || 1);
  const assignment = new Map<string, readonly string[]>();
  for (const [shard, all] of ranked) {
    const pools = new Set<string>();
    const picked: string[] = [];
    for (const member of all) {
      if (picked.length >= replicas) break;
      if (pools.has(poolOf.get(member)!)) continue;
      pools.add(poolOf.get(member)!);
      picked.push(member);
    }
    for (const member of all) {
      if (picked.length >= replicas) break;
      if (!picked.includes(member)) picked.push(member);
    }
    assignment.set(shard, picked);
  }
  return assignment;
}

/** A member's rank among a shard's replicas (0: preferred primary), or undefined when it holds no replica. */
export function replicaRank(assignment: Assignment, shardId: string, memberId: string): number | undefined {
  const rank = assignment.get(shardId)?.indexOf(memberId) ?? -1;
  return rank < 0 ? undefined : rank;
}

/** Per member of `members`: how many replica slots it holds and of how many shards it is the preferred primary. */
export function loadPerMember(
  assignment: Assignment,
  members: readonly string[],
): Map<string, { replicas: number; primaries: number }> {
  const load = new Map(members.map((m) => [m, { replicas: 0, primaries: 0 }]));
  for (const replicas of assignment.values()) {
    replicas.forEach((member, rank) => {
      const entry = load.get(member) ?? { replicas: 0, primaries: 0 };
      load.set(member, { replicas: entry.replicas + 1, primaries: entry.primaries + (rank === 0 ? 1 : 0) });
    });
  }
  return load;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
