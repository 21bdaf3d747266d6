/**
 * The start of a fresh shard's coverage. Every replica subscribes as it opens, so the exchange sends ticks
 * to each replica's connection before any replica has claimed the shard; the claimant publishes its whole
 * buffer, and each other replica publishes, once, what it cut before the claimant's coverage began
 * (overlap is harmless: row ids). Why: docs/decisions/0021-fleet-sharding-and-ownership.md, "First claim".
 */
import type { OwnershipRecord } from './ownership.ts';

/**
 * Before this instant (ms) the shard's record does not prove that its holder covered the shard: a replica
 * reading the record for the first time publishes what it holds from before it. A first claim records
 * where the claimant's unbroken coverage starts (its replay point); a record without one (0) proves
 * coverage only from the take-over's own time.
 */
export function unclaimedBefore(record: OwnershipRecord): number {
  return record.publishedTo > 0 ? record.publishedTo : record.renewedAt;
}

/**
 * A first claim (no record yet) waits until the claimant covers every stream of the shard (`coveredFrom`
 * set, so its record states where its coverage starts), or until it has waited a whole lease for data: a
 * shard with a quiet stream still gets a primary.
 */
export function mayClaimFirst(coveredFrom: number | null, openForMs: number, leaseMs: number): boolean {
  return coveredFrom !== null || openForMs >= leaseMs;
}
