/** The fleet's options and their defaults, declared once (the relay's config reads them). */

export interface FleetOptions {
  /** Replicas per shard: one primary publishes, the others stand by (fewer when the fleet is smaller). */
  readonly replicas: number;
  /** A shard's record (or a member's heartbeat) unchanged for this long, as timed locally, counts as dead. */
  readonly leaseMs: number;
  /** How often a member renews its heartbeat (with its shards' publishedTo) and reads the fleet. */
  readonly renewMs: number;
  /** Shards are planned to this share of an exchange's per-connection cap, leaving room for uneven hashing. */
  readonly shardFill: number;
  /** Each exchange gets at least this many shards, to spread a small configuration over the fleet. */
  readonly minShardsPerExchange: number;
}

/**
 * A 5 s lease renewed every second: a dead primary is replaced 5-7 s after its last renewal (lease plus up
 * to one poll), inside the 10 s RTO, and four renewals can be missed before a live one looks dead.
 */
export const DEFAULT_FLEET_OPTIONS: FleetOptions = Object.freeze({
  replicas: 2,
  leaseMs: 5_000,
  renewMs: 1_000,
  shardFill: 0.5,
  minShardsPerExchange: 1,
});
