/**
 * The per-shard ownership state machine: from the shard's ownership record as last read and this instance's
 * own view, what it does next (keep publishing, take over with epoch + 1, stand by, step down). Pure; the
 * adapter reads the record, runs the take-over and renewal transactions, and keeps the role between calls.
 * Why each rule: docs/decisions/0021-fleet-sharding-and-ownership.md.
 */

/** A shard's ownership record, changed only in transactions. */
export interface OwnershipRecord {
  readonly holder: string;
  /** The fencing token: one more at each take-over, never less. */
  readonly epoch: number;
  /** The holder has published every stream of the shard up to here (ms): the minimum over its streams. */
  readonly publishedTo: number;
  /**
   * Changes at each renewal (stored: the taker's clock at the take-over; as observed, the holder's heartbeat
   * beat folded in). Lease expiry only compares it for change, never with a clock.
   */
  readonly renewedAt: number;
}

/** What reading the record gave: the record, no record yet, or nothing (control plane unreachable). */
export type Observation =
  | { readonly kind: 'record'; readonly record: OwnershipRecord }
  | { readonly kind: 'absent' }
  | { readonly kind: 'unreadable' };

/**
 * This instance's role for the shard. `yielding`: a higher epoch exists, and this instance keeps publishing
 * until that epoch's holder has published up to `until`, its own coverage when it first saw that epoch.
 */
export type Role =
  | { readonly role: 'standby' }
  | { readonly role: 'primary'; readonly epoch: number }
  | { readonly role: 'yielding'; readonly epoch: number; readonly until: number };

/** What this instance knows of itself for the shard. */
export interface LocalView {
  readonly self: string;
  /** Its rank among the shard's replicas (0: preferred primary), undefined when it holds no replica. */
  readonly rank: number | undefined;
  /** It has published every stream of the shard up to here (ms); meaningful while it publishes. */
  readonly coveredTo: number;
  /** Local monotonic time since it last saw the record change (lease-watch.ts), never a clock difference. */
  readonly sinceChangeMs: number;
  readonly leaseMs: number;
  /**
   * A planned handover may start now: the holder is leaving or no longer the preferred replica, this
   * instance is the preferred primary, and its replay buffer reaches back to the holder's publishedTo
   * (make-before-break). A standby then takes over without waiting for the lease.
   */
  readonly handover?: boolean;
}

/**
 * The next step. `next` is the role after it; for `take-over`, the role once the transaction (which expects
 * the record still at `expectEpoch`, null: still absent) commits, else the role stays as it was. `replayFrom`:
 * where the new primary's publishing starts (the old holder's publishedTo), null when there was no holder.
 * An instance that publishes keeps publishing while the transaction runs, whatever its outcome.
 */
export type Decision =
  | { readonly action: 'publish'; readonly renew: boolean; readonly next: Role; readonly reason: string }
  | {
      readonly action: 'take-over';
      readonly expectEpoch: number | null;
      readonly epoch: number;
      readonly replayFrom: number | null;
      readonly next: Role;
      readonly reason: string;
    }
  | { readonly action: 'stand-by'; readonly next: Role; readonly reason: string }
  | { readonly action: 'step-down'; readonly next: Role; readonly reason: string };

const STANDBY: Role = Object.freeze({ role: 'standby' });

/** What an instance in `role` does next, given what it read of the shard's record and its own view. */
export function decideOwnership(role: Role, observed: Observation, view: LocalView): Decision {
  return role.role === 'standby' ? decideStandby(observed, view) : decidePublisher(role, observed, view);
}

/** A primary or yielding instance: it publishes until a newer epoch's holder has covered what it published. */
function decidePublisher(
  role: Exclude<Role, { role: 'standby' }>,
  observed: Observation,
  view: LocalView,
): Decision {
  if (observed.kind !== 'record') {
    const what = observed.kind === 'absent' ? 'no record' : 'record unreadable';
    return publish(role, `${what}: keep publishing, losing the control plane never stops a publisher`);
  }
  const { record } = observed;
  if (record.epoch < role.epoch) {
    return publish(role, `a stale read of epoch ${record.epoch}: keep publishing`);
  }
  if (record.epoch === role.epoch) {
    if (role.role === 'yielding') return publish(role, 'a stale read of our own epoch: keep yielding');
    if (record.holder !== view.self) {
      return publish(role, 'our epoch names another holder: keep publishing, never stop on doubt');
    }
    return publish(role, 'we hold the record');
  }
  const until = role.role === 'yielding' ? role.until : view.coveredTo;
  if (record.publishedTo >= until) {
    return {
      action: 'step-down',
      next: STANDBY,
      reason: `epoch ${record.epoch} has published past our coverage`,
    };
  }
  if (view.rank !== undefined && leaseExpired(view)) {
    return takeOver(record, record.publishedTo, `epoch ${record.epoch} went silent before covering ours`);
  }
  return publish(
    { role: 'yielding', epoch: role.epoch, until },
    `epoch ${record.epoch} is newer but has not published up to ${until}: keep publishing`,
  );
}

function decideStandby(observed: Observation, view: LocalView): Decision {
  if (observed.kind === 'unreadable') return standBy('record unreadable: a take-over needs a transaction');
  if (view.rank === undefined) return standBy('not a replica of this shard');
  const expired = leaseExpired(view);
  if (observed.kind === 'absent') {
    if (view.rank > 0 && !expired) return standBy('no record yet: the preferred primary claims it first');
    return takeOver(null, null, 'no record: claim the shard');
  }
  const { record } = observed;
  if (record.holder === view.self) {
    return takeOver(record, record.publishedTo, 'the record names us but we do not publish: take it afresh');
  }
  if (view.handover === true) {
    return takeOver(record, record.publishedTo, `handover from ${record.holder}: we cover its publishedTo`);
  }
  if (!expired) return standBy(`epoch ${record.epoch} is renewed by ${record.holder}`);
  return takeOver(record, record.publishedTo, `epoch ${record.epoch} unchanged for ${view.sinceChangeMs} ms`);
}

/** The record has stood unchanged for a whole lease, as this instance timed it. */
function leaseExpired(view: LocalView): boolean {
  return view.sinceChangeMs >= view.leaseMs;
}

function publish(role: Role, reason: string): Decision {
  return { action: 'publish', renew: role.role === 'primary', next: role, reason };
}

function standBy(reason: string): Decision {
  return { action: 'stand-by', next: STANDBY, reason };
}

function takeOver(record: OwnershipRecord | null, replayFrom: number | null, reason: string): Decision {
  const epoch = (record?.epoch ?? 0) + 1;
  return {
    action: 'take-over',
    expectEpoch: record?.epoch ?? null,
    epoch,
    replayFrom,
    next: { role: 'primary', epoch },
    reason,
  };
}
