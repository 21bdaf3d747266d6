/**
 * How long a shard's ownership record has stood unchanged, timed by this instance's own monotonic clock
 * from the moment it saw the record change: lease expiry never compares two machines' clocks.
 */
import type { Observation, OwnershipRecord } from './ownership.ts';

/** The last readable observation and the local monotonic time (ms) at which it was first seen. */
export interface LeaseWatch {
  readonly seen: OwnershipRecord | null;
  readonly changedAt: number;
}

/**
 * The watch after reading the record at local monotonic time `nowMs`. The first read and any change restart
 * the timer; an unreadable record changes nothing (no evidence either way).
 */
export function watchRecord(
  watch: LeaseWatch | undefined,
  observed: Observation,
  nowMs: number,
): LeaseWatch | undefined {
  if (observed.kind === 'unreadable') return watch;
  const seen = observed.kind === 'record' ? observed.record : null;
  if (watch !== undefined && sameRecord(watch.seen, seen)) return watch;
  return { seen, changedAt: nowMs };
}

/** Local time since the record last changed; 0 before any readable observation (never expired). */
export function sinceChangeMs(watch: LeaseWatch | undefined, nowMs: number): number {
  return watch === undefined ? 0 : nowMs - watch.changedAt;
}

function sameRecord(a: OwnershipRecord | null, b: OwnershipRecord | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.holder === b.holder &&
    a.epoch === b.epoch &&
    a.publishedTo === b.publishedTo &&
    a.renewedAt === b.renewedAt
  );
}
