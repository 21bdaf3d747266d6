/** The fleet's options and their defaults, declared once (the relay's config will read them). */

export interface FleetOptions {
  /** Replicas per shard: one primary publishes, the others stand by (fewer when the fleet is smaller). */
  readonly replicas: number;
  /** A shard's record unchanged for this long, as timed locally, lets a standby take it over. */
  readonly leaseMs: number;
  /** Shards are planned to this share of an exchange's per-connection cap, leaving room for uneven hashing. */
  readonly shardFill: number;
  /** Each exchange gets at least this many shards, to spread a small configuration over the fleet. */
  readonly minShardsPerExchange: number;
}

export const DEFAULT_FLEET_OPTIONS: FleetOptions = Object.freeze({
  replicas: 2,
  leaseMs: 15_000,
  shardFill: 0.5,
  minShardsPerExchange: 1,
});
