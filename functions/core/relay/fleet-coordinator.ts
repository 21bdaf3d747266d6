import { assignReplicasInPools, replicaRank, type Assignment } from '../fleet/assignment.ts';
import { mayClaimFirst, unclaimedBefore } from '../fleet/first-claim.ts';
import { sinceChangeMs, watchRecord } from '../fleet/lease-watch.ts';
import { MemberWatch } from '../fleet/members.ts';
import type { FleetOptions } from '../fleet/options.ts';
import { decideOwnership, type Decision, type Observation, type Role } from '../fleet/ownership.ts';
import type { Shard } from '../fleet/shards.ts';
import type { FleetStore, MemberRecord, ShardRecord } from '../fleet/store.ts';
import type { Clock, Logger } from '../ports.ts';
import { bounded } from '../shared/bounded.ts';
import { logSignal } from '../shared/signals.ts';
import { FleetHeartbeat } from './fleet-heartbeat.ts';
import type { FleetShard } from './fleet-shard.ts';

const STANDBY: Role = Object.freeze({ role: 'standby' });

export interface CoordinatorOptions extends Pick<FleetOptions, 'replicas' | 'leaseMs' | 'renewMs'> {
  readonly self: string;
  readonly pool: string;
  readonly startedAt: number;
}

/** Creates (and starts) the member's replica of a shard, and stops one it no longer needs. */
export interface ShardHost {
  open(shard: Shard): FleetShard;
  close(held: FleetShard): void;
}

/**
 * One fleet member's control loop, every renewMs: read the members and the shard records, judge who is
 * alive, assign replicas by rendezvous hashing, open the replicas this member holds and close the others,
 * run each shard's ownership state machine, and write the member's heartbeat (with every shard's role and
 * publishedTo: a primary's renewal). Nothing here blocks publishing, and a failed read stops nobody.
 */
export class FleetCoordinator {
  private readonly members: MemberWatch;
  private readonly heartbeat: FleetHeartbeat;
  private readonly held = new Map<string, FleetShard>();
  private assignment: Assignment = new Map();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private readingMembers: Promise<MemberRecord[]> | undefined;
  private lastUnowned: readonly Shard[] | undefined;
  private readingShards: Promise<ShardRecord[]> | undefined;
  private readableRounds = 0;
  private leaving = false;
  private startedAt: number | undefined;

  constructor(
    private readonly shards: readonly Shard[],
    private readonly store: FleetStore,
    private readonly host: ShardHost,
    private readonly clock: Clock,
    private readonly monotonic: () => number,
    private readonly logger: Logger,
    private readonly options: CoordinatorOptions,
  ) {
    this.members = new MemberWatch(options.self, options.leaseMs);
    this.heartbeat = new FleetHeartbeat(store, clock, logger, options);
  }

  start(): void {
    if (this.timer) return;
    this.startedAt = this.monotonic();
    this.timer = setInterval(() => void this.tick(), this.options.renewMs);
    this.timer.unref();
    void this.tick();
  }

  /** One round now (or the one running). */
  tick(): Promise<void> {
    this.round ??= this.runRound()
      .catch((error: unknown) => this.logger.log('ERROR', 'fleet round failed', { error }))
      .finally(() => (this.round = undefined));
    return this.round;
  }

  get heldShards(): readonly FleetShard[] {
    return [...this.held.values()];
  }

  /** Shards without a live primary at the last readable round (undefined before one). */
  unowned(): readonly string[] | undefined {
    return this.lastUnowned?.map((s) => s.id);
  }

  /** Hands every shard over (make-before-break): resolves true once none publishes, false at the deadline. */
  async leave(deadlineMs: number): Promise<boolean> {
    this.leaving = true;
    const until = this.monotonic() + deadlineMs;
    for (;;) {
      await this.tick();
      if (this.heldShards.every((s) => !s.isPublishing)) return true;
      const others = this.members.assignable(this.monotonic(), this.options.pool, true).size;
      if (others === 0 || this.monotonic() >= until) return false;
      await new Promise((r) => setTimeout(r, Math.min(100, this.options.renewMs)));
    }
  }

  /** Stops the loop and removes the heartbeat (a clean exit is seen at once); shards are the host's. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.round;
    await bounded(this.store.removeMember(this.options.self), timeoutMs).catch((error: unknown) =>
      this.logger.log('WARNING', 'fleet member removal failed', { error }),
    );
  }

  private async runRound(): Promise<void> {
    // One read of each kind at a time: a slow control plane answers late, and is not asked again meanwhile.
    this.readingMembers ??= this.store.readMembers().finally(() => (this.readingMembers = undefined));
    this.readingShards ??= this.store.readShards().finally(() => (this.readingShards = undefined));
    const limit = this.options.renewMs;
    const [members, records] = await Promise.allSettled([
      bounded(this.readingMembers, limit),
      bounded(this.readingShards, limit),
    ]);
    const now = this.monotonic();
    if (members.status === 'fulfilled') this.members.observe(members.value, now);
    const readable = members.status === 'fulfilled' && records.status === 'fulfilled';
    if (readable) this.readableRounds++;
    const poolOf = this.members.assignable(now, this.options.pool, this.leaving);
    this.assignment = assignReplicasInPools(
      this.shards.map((s) => s.id),
      poolOf,
      this.options.replicas,
    );
    this.reconcile();
    const byShard = readable ? new Map(records.value.map((r) => [r.shard, r])) : undefined;
    if (byShard) this.lastUnowned = this.shards.filter((s) => !this.livePrimary(byShard.get(s.id), now));
    for (const held of this.held.values()) {
      held.reportOverflow();
      this.releaseUnclaimed(held, byShard?.get(held.shard.id));
      this.step(held, this.observe(held.shard.id, byShard), now);
    }
    this.writeMember();
  }

  /** The record's holder is alive and its heartbeat names it primary at the record's epoch. */
  private livePrimary(doc: ShardRecord | undefined, now: number): boolean {
    if (doc === undefined || !this.members.isAlive(doc.holder, now)) return false;
    const report = this.members.record(doc.holder)?.shards[doc.shard];
    return report?.role === 'primary' && report.epoch === doc.epoch;
  }

  /**
   * Opens the replicas this member is assigned, closes standbys it no longer is. Not before it has read the
   * members twice (or waited a lease): alone in its first view, every member would open every shard.
   */
  private reconcile(): void {
    const waited = this.monotonic() - (this.startedAt ?? this.monotonic());
    if (this.readableRounds < 2 && waited < this.options.leaseMs) return;
    for (const shard of this.shards) {
      const rank = replicaRank(this.assignment, shard.id, this.options.self);
      const held = this.held.get(shard.id);
      if (rank !== undefined && held === undefined) {
        const opened = this.host.open(shard);
        opened.openedAt = this.monotonic();
        this.held.set(shard.id, opened);
      }
      if (rank === undefined && held && held.role.role === 'standby' && !held.takingOver) {
        this.held.delete(shard.id);
        this.host.close(held);
      }
    }
  }

  /** A standby's first sight of a claim: it publishes what it cut before the claimant covered (first-claim.ts). */
  private releaseUnclaimed(held: FleetShard, doc: ShardRecord | undefined): void {
    if (doc === undefined || held.claimed || held.isPublishing || held.takingOver) return;
    const before = unclaimedBefore(doc);
    const batches = held.releaseUnclaimed(before);
    this.logger.log('INFO', 'fleet replica released what it cut before the claim', {
      shard: held.shard.id,
      epoch: doc.epoch,
      before,
      batches,
    });
  }

  /**
   * The shard's record as the state machine reads it: the ownership document, with the holder's
   * publishedTo and renewal taken from its heartbeat while that names it primary at the record's epoch.
   */
  private observe(shardId: string, records: Map<string, ShardRecord> | undefined): Observation {
    if (records === undefined) return { kind: 'unreadable' };
    const doc = records.get(shardId);
    if (doc === undefined) return { kind: 'absent' };
    const holder = this.members.record(doc.holder);
    const report = holder?.shards[shardId];
    if (holder === undefined || report?.role !== 'primary' || report.epoch !== doc.epoch) {
      return { kind: 'record', record: doc };
    }
    const publishedTo = Math.max(doc.publishedTo, report.publishedTo ?? doc.publishedTo);
    return { kind: 'record', record: { ...doc, publishedTo, renewedAt: holder.beat } };
  }

  private step(held: FleetShard, observed: Observation, now: number): void {
    const id = held.shard.id;
    const rank = replicaRank(this.assignment, id, this.options.self);
    held.watch = watchRecord(held.watch, observed, now);
    // A running take-over replays from the publishedTo it read: nothing after that may be pruned meanwhile.
    if (held.takingOver) return;
    if (observed.kind === 'record' && held.role.role === 'standby') {
      held.buffer.prune(observed.record.publishedTo);
    }
    const decision = decideOwnership(held.role, observed, {
      self: this.options.self,
      rank,
      coveredTo: held.coveredTo(),
      sinceChangeMs: sinceChangeMs(held.watch, now),
      leaseMs: this.options.leaseMs,
      handover: this.handoverReady(held, observed, rank),
    });
    this.apply(held, decision);
  }

  /** Preferred primary, not the holder, and its buffer reaches back to the holder's publishedTo. */
  private handoverReady(held: FleetShard, observed: Observation, rank: number | undefined): boolean {
    if (rank !== 0 || observed.kind !== 'record' || held.role.role !== 'standby') return false;
    if (observed.record.holder === this.options.self) return false;
    const from = held.bufferFrom();
    return from !== null && from <= observed.record.publishedTo;
  }

  private apply(held: FleetShard, decision: Decision): void {
    const fields = { shard: held.shard.id, reason: decision.reason };
    switch (decision.action) {
      case 'take-over':
        if (decision.expectEpoch === null && !this.mayClaimFirst(held)) return;
        this.takeOver(held, decision);
        return;
      case 'step-down':
        held.demote();
        held.role = STANDBY;
        logSignal(this.logger, 'fleet_step_down', { event: 'fleet_step_down', ...fields });
        this.writeMember();
        return;
      case 'publish':
        if (decision.next.role !== held.role.role) {
          this.logger.log('WARNING', 'fleet yielding', { event: 'fleet_yielding', ...fields });
        }
        held.role = decision.next;
        return;
      case 'stand-by':
        held.role = decision.next;
    }
  }

  /** A first claim learns the members first, and states where the claimant's coverage starts (first-claim.ts). */
  private mayClaimFirst(held: FleetShard): boolean {
    if (this.readableRounds < 2) return false;
    return mayClaimFirst(held.claimFrom(), this.monotonic() - held.openedAt, this.options.leaseMs);
  }

  private takeOver(held: FleetShard, decision: Extract<Decision, { action: 'take-over' }>): void {
    const { epoch, replayFrom, expectEpoch, reason } = decision;
    const shard = held.shard.id;
    const next: ShardRecord = {
      shard,
      holder: this.options.self,
      epoch,
      // A first claim has no predecessor: it states where it covers every stream from (0: not known).
      publishedTo: replayFrom ?? held.claimFrom() ?? 0,
      renewedAt: this.clock.now(),
    };
    held.takingOver = true;
    this.store
      .takeOver(next, expectEpoch, reason)
      .then((committed) => {
        if (!committed) {
          this.logger.log('INFO', 'fleet take-over lost a race', { shard, epoch, reason });
          return;
        }
        const { replayed, bufferFrom } = held.promote(epoch, replayFrom);
        held.role = decision.next;
        const fields = { shard, epoch, replayFrom, bufferFrom, replayed, reason };
        logSignal(this.logger, 'fleet_takeover', { event: 'fleet_takeover', ...fields });
        if (replayFrom !== null && replayFrom > 0 && (bufferFrom === null || bufferFrom > replayFrom)) {
          logSignal(this.logger, 'fleet_replay_hole', { event: 'fleet_replay_hole', ...fields });
        }
        this.writeMember();
      })
      .catch((error: unknown) => this.logger.log('WARNING', 'fleet take-over failed', { shard, error }))
      .finally(() => (held.takingOver = false));
  }

  /** Writes the heartbeat with every held shard's role and rank. */
  private writeMember(): void {
    const shards = Object.fromEntries(
      [...this.held].map(([id, held]) => [
        id,
        held.report(replicaRank(this.assignment, id, this.options.self)),
      ]),
    );
    this.heartbeat.write(shards, this.leaving);
  }
}
