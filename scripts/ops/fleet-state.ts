/**
 * The relay fleet as Firestore holds it (the shapes of docs/decisions/0021 and the relay's membership):
 * members with their shards and roles, and one ownership record per shard. `summarizeFleet` is pure and
 * judges liveness by Firestore server times only (a member document's updateTime against the read's
 * readTime), never by a relay's clock; `readFleet` is the one read. Used by `ops fleet`, the deploy gate
 * (scripts/release/fleet-gate.ts) and the fleet chaos scenarios.
 */
import type { Firestore } from '@google-cloud/firestore';

export type FleetRole = 'primary' | 'yielding' | 'standby';

/** A member's entry for one shard it holds a replica of. */
export interface MemberShard {
  readonly role: FleetRole;
  readonly epoch: number | null;
  readonly publishedTo: number | null;
  readonly bufferFrom: number | null;
  readonly rank: number;
}

/** `relay_members/<memberId>` with the server's last write time of the document. */
export interface MemberRecord {
  readonly memberId: string;
  readonly pool: string;
  readonly beat: number;
  readonly leaving: boolean;
  readonly shards: Readonly<Record<string, MemberShard>>;
  /** Server time (ms) of the document's last write: the member rewrites it at every renewal. */
  readonly updateTime: number;
}

/** `relay_shards/<exchange>~<index>`: written only by take-over transactions. */
export interface ShardRecord {
  readonly shard: string;
  readonly holder: string;
  readonly epoch: number;
  readonly publishedTo: number;
  readonly takenAt: number;
  readonly reason: string;
}

export interface FleetSnapshot {
  /** Server time (ms) of the read. */
  readonly readTime: number;
  readonly members: readonly MemberRecord[];
  readonly shards: readonly ShardRecord[];
}

export interface MemberView {
  readonly id: string;
  readonly pool: string;
  /** Renewed within the lease (server times) and not leaving. */
  readonly live: boolean;
  readonly leaving: boolean;
  /** Server ms since its last renewal. */
  readonly ageMs: number;
  readonly primaries: number;
  readonly standbys: number;
  readonly yielding: number;
}

export interface ShardView {
  readonly shard: string;
  /** The record's holder, or null when no member ever took the shard. */
  readonly primary: string | null;
  readonly epoch: number | null;
  /** The holder is live and reports the shard as primary at the record's epoch. */
  readonly primaryLive: boolean;
  readonly primaryPool: string | null;
  /** Live members standing by for the shard, best rank first. */
  readonly standbys: readonly { readonly id: string; readonly pool: string }[];
  /** How far the shard is published: the confirmed primary's report, else the record's replay point. */
  readonly publishedTo: number | null;
  /** readTime - publishedTo: server time against the relay's clock, so approximate (clock skew). */
  readonly lagMs: number | null;
}

export interface FleetView {
  readonly readTime: number;
  readonly members: readonly MemberView[];
  readonly shards: readonly ShardView[];
}

/** Members, shards and who publishes, from one snapshot. `expectedShards` adds shards no record names yet. */
export function summarizeFleet(
  snapshot: FleetSnapshot,
  leaseMs: number,
  expectedShards: readonly string[] = [],
): FleetView {
  const { readTime } = snapshot;
  const members = [...snapshot.members].sort((a, b) => a.memberId.localeCompare(b.memberId));
  const liveIds = new Set(
    members.filter((m) => !m.leaving && readTime - m.updateTime <= leaseMs).map((m) => m.memberId),
  );
  const byId = new Map(members.map((m) => [m.memberId, m]));
  const records = new Map(snapshot.shards.map((r) => [r.shard, r]));
  const ids = [...new Set([...expectedShards, ...records.keys()])].sort();
  const shards = ids.map((shard): ShardView => {
    const record = records.get(shard);
    const holder = record ? byId.get(record.holder) : undefined;
    const entry = holder?.shards[shard];
    const primaryLive =
      holder !== undefined &&
      liveIds.has(holder.memberId) &&
      entry?.role === 'primary' &&
      entry.epoch === record!.epoch;
    const publishedTo = (primaryLive ? entry!.publishedTo : null) ?? record?.publishedTo ?? null;
    const standbys = members
      .filter((m) => liveIds.has(m.memberId) && m.shards[shard]?.role === 'standby')
      .sort((a, b) => a.shards[shard]!.rank - b.shards[shard]!.rank)
      .map((m) => ({ id: m.memberId, pool: m.pool }));
    return {
      shard,
      primary: record?.holder ?? null,
      epoch: record?.epoch ?? null,
      primaryLive,
      primaryPool: holder?.pool ?? null,
      standbys,
      publishedTo,
      lagMs: publishedTo === null ? null : readTime - publishedTo,
    };
  });
  const count = (m: MemberRecord, role: FleetRole) =>
    Object.values(m.shards).filter((s) => s.role === role).length;
  return {
    readTime,
    shards,
    members: members.map((m) => ({
      id: m.memberId,
      pool: m.pool,
      live: liveIds.has(m.memberId),
      leaving: m.leaving,
      ageMs: readTime - m.updateTime,
      primaries: count(m, 'primary'),
      standbys: count(m, 'standby'),
      yielding: count(m, 'yielding'),
    })),
  };
}

/**
 * Why the fleet is not safe to roll further, one line per shard at fault (empty: safe): every shard needs a
 * live primary and a live standby, in another pool than the primary when `distinctPools`.
 */
export function fleetProblems(view: FleetView, distinctPools: boolean): string[] {
  const problems: string[] = [];
  for (const s of view.shards) {
    if (!s.primaryLive) {
      problems.push(
        s.primary === null
          ? `${s.shard}: no primary has taken it`
          : `${s.shard}: primary ${s.primary} (epoch ${s.epoch}) is not live or does not report it`,
      );
      continue;
    }
    const standbys = distinctPools ? s.standbys.filter((b) => b.pool !== s.primaryPool) : s.standbys;
    if (standbys.length === 0)
      problems.push(
        `${s.shard}: no live standby${distinctPools ? ` outside pool "${s.primaryPool}"` : ''} (primary ${s.primary})`,
      );
  }
  return problems;
}

/** One read of both collections; `readTime` is the later of the two reads' server times. */
export async function readFleet(
  firestore: Firestore,
  collections: { readonly members: string; readonly shards: string },
): Promise<FleetSnapshot> {
  const [members, shards] = await Promise.all([
    firestore.collection(collections.members).get(),
    firestore.collection(collections.shards).get(),
  ]);
  return {
    readTime: Math.max(members.readTime.toMillis(), shards.readTime.toMillis()),
    members: members.docs.map((d) => memberRecord(d.data(), d.id, d.updateTime.toMillis())),
    shards: shards.docs.map((d) => shardRecord(d.data(), d.id)),
  };
}

type Data = Record<string, unknown>;

function memberRecord(data: Data, id: string, updateTime: number): MemberRecord {
  const shards: Record<string, MemberShard> = {};
  for (const [shard, raw] of Object.entries((data.shards ?? {}) as Record<string, Data>)) {
    shards[shard] = {
      role: raw.role as FleetRole,
      epoch: numberOrNull(raw.epoch),
      publishedTo: numberOrNull(raw.publishedTo),
      bufferFrom: numberOrNull(raw.bufferFrom),
      rank: Number(raw.rank ?? 0),
    };
  }
  return {
    memberId: typeof data.memberId === 'string' ? data.memberId : id,
    pool: typeof data.pool === 'string' ? data.pool : '',
    beat: Number(data.beat ?? 0),
    leaving: data.leaving === true,
    shards,
    updateTime,
  };
}

function shardRecord(data: Data, id: string): ShardRecord {
  return {
    shard: typeof data.shard === 'string' ? data.shard : id.replace('~', '/'),
    holder: String(data.holder ?? ''),
    epoch: Number(data.epoch ?? 0),
    publishedTo: Number(data.publishedTo ?? 0),
    takenAt: millis(data.takenAt),
    reason: String(data.reason ?? ''),
  };
}

/** A Firestore Timestamp or a number of ms (0 when absent). */
function millis(value: unknown): number {
  if (typeof value === 'number') return value;
  const stamp = value as { toMillis?: () => number } | undefined;
  return typeof stamp?.toMillis === 'function' ? stamp.toMillis() : 0;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
