/**
 * The fleet's control plane as the core sees it: member heartbeats (one document per member, written by
 * that member only) and shard ownership records (one per shard, written only by take-over transactions).
 * A primary's renewals ride on its member heartbeat, so writes grow with members, not shards or streams.
 */
import type { OwnershipRecord } from './ownership.ts';

/** A member's view of one shard it holds a replica of, as it reports it in its heartbeat. */
export interface ShardReport {
  readonly role: 'primary' | 'yielding' | 'standby';
  /** The epoch it publishes under (primary, yielding), null for a standby. */
  readonly epoch: number | null;
  /** Publishing: the minimum over the shard's streams of what is published and settled (ms); else null. */
  readonly publishedTo: number | null;
  /** Standby: the oldest instant its replay buffer covers for every stream it has subscribed; else null. */
  readonly bufferFrom: number | null;
  /** Its rank among the shard's replicas (0: preferred primary) in its own view; null if none. */
  readonly rank: number | null;
}

/** A member's heartbeat document. */
export interface MemberRecord {
  readonly memberId: string;
  readonly pool: string;
  /** Its own clock (ms); shown, never compared across machines. */
  readonly startedAt: number;
  readonly renewedAt: number;
  /** One more at each renewal: liveness is this changing, as the reader times it. */
  readonly beat: number;
  /** Shutting down: it hands its shards over and takes no new assignment. */
  readonly leaving: boolean;
  readonly shards: Readonly<Record<string, ShardReport>>;
}

/** A shard's ownership document (the record of ownership.ts with the shard it belongs to). */
export interface ShardRecord extends OwnershipRecord {
  readonly shard: string;
}

export interface FleetStore {
  /** Every member document; rejects when the control plane is unreachable. */
  readMembers(): Promise<MemberRecord[]>;
  /** Every shard ownership document; rejects when unreachable. */
  readShards(): Promise<ShardRecord[]>;
  /** Overwrites this member's heartbeat; `expireAt` (ms) is for TTL cleanup only. */
  writeMember(member: MemberRecord, expireAt: number): Promise<void>;
  /** Removes this member's heartbeat (clean exit). */
  removeMember(memberId: string): Promise<void>;
  /**
   * The take-over transaction: writes `next` only if the shard's record is still at `expectEpoch` (null:
   * still absent). Resolves whether it committed; rejects when the outcome is unknown.
   */
  takeOver(next: ShardRecord, expectEpoch: number | null, reason: string): Promise<boolean>;
}
