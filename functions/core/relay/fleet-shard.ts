import type { SealedBatch } from '../contract/batch.ts';
import type { Shard } from '../fleet/shards.ts';
import type { ShardReport } from '../fleet/store.ts';
import type { Role } from '../fleet/ownership.ts';
import type { LeaseWatch } from '../fleet/lease-watch.ts';
import type { Clock, Logger, TickFeed, TickPublisher } from '../ports.ts';
import { logSignal } from '../shared/signals.ts';
import type { BatchSink } from './batch-sink.ts';
import type { BatchPublishing } from './publishing.ts';
import { ReplayBuffer, type ReplayOverflow } from './replay-buffer.ts';
import { RelayService, type RelayOptions } from './relay-service.ts';
import type { StreamState, StreamStatus } from './stream-registry.ts';

const STANDBY: Role = Object.freeze({ role: 'standby' });

/**
 * One shard as a fleet member holds it: its own feed (one exchange connection) and relay service, and a
 * gate between cut batches and the broker. As primary (or yielding) the gate publishes with the shard
 * and epoch set; as standby it keeps batches in the replay buffer, to publish from the old primary's
 * publishedTo when it takes over.
 */
export class FleetShard implements BatchSink {
  readonly service: RelayService;
  readonly buffer: ReplayBuffer;
  role: Role = STANDBY;
  /** The lease watch over the shard's record (lease-watch.ts), kept by the coordinator. */
  watch: LeaseWatch | undefined;
  /** A take-over transaction is running. */
  takingOver = false;
  /** Local monotonic time at which the coordinator opened it. */
  openedAt = 0;
  private epoch: number | null = null;
  /** It has read a claim of the shard (or made one): what it cut before then is published or released. */
  private claimSeen = false;
  /**
   * A standby's batches whose window starts before this go to the broker without an epoch, as no publisher
   * may have covered them: those cut before the first claim it read, or all of them once it stops unclaimed.
   */
  private releaseBefore = Number.NEGATIVE_INFINITY;
  private publishing: BatchPublishing | undefined;
  private streams: readonly StreamState[] = [];
  private running: Promise<void> | undefined;
  private readonly logger: Logger;
  /** The buffer's overflow counts when last reported. */
  private reported: ReplayOverflow = { batches: 0, ticks: 0, bytes: 0 };

  constructor(
    readonly shard: Shard,
    feed: TickFeed,
    publisher: TickPublisher,
    private readonly clock: Clock,
    logger: Logger,
    options: Omit<RelayOptions, 'streams' | 'sink'>,
    bufferBytes: number,
  ) {
    this.buffer = new ReplayBuffer(bufferBytes);
    this.logger = logger.child({ shard: shard.id });
    this.service = new RelayService(feed, publisher, clock, this.logger, {
      ...options,
      streams: shard.streams,
      sink: (publishing) => {
        this.publishing = publishing;
        return this;
      },
    });
    this.streams = this.service.streamStates();
  }

  /** Starts the feed; resolves when it ends, rejects when it fails. */
  start(): Promise<void> {
    this.running ??= this.service.start();
    return this.running;
  }

  /** It has read a claim of its shard or made one (before that, stop() publishes what it holds). */
  get claimed(): boolean {
    return this.claimSeen;
  }

  get isPublishing(): boolean {
    return this.epoch !== null;
  }

  /** The gate (the relay service's sink): to the broker while publishing, else into the replay buffer. */
  publish(batch: SealedBatch, state: StreamState): void {
    if (this.epoch !== null)
      this.publishing!.publish({ ...batch, shard: this.shard.id, epoch: this.epoch }, state);
    else if (batch.window.from < this.releaseBefore)
      this.publishing!.publish({ ...batch, shard: this.shard.id }, state);
    else this.buffer.add(batch, state);
  }

  /** Sends the open bundles while publishing; a standby's batches wait in the replay buffer instead. */
  flush(): void {
    if (this.epoch !== null || this.releaseBefore > Number.NEGATIVE_INFINITY) this.publishing!.flush();
  }

  /**
   * At the first claim it reads (first-claim.ts): publishes, once, the batches it holds from before
   * `before`, which the claimant may never have received, and so the batch its open windows become.
   * They carry no epoch: none existed when they were cut. Returns how many it held.
   */
  releaseUnclaimed(before: number): number {
    if (this.claimSeen) return 0;
    this.claimSeen = true;
    this.releaseBefore = before;
    const held = this.buffer.takeBefore(before);
    for (const { batch, state } of held) this.publishing!.publish({ ...batch, shard: this.shard.id }, state);
    this.publishing!.flush();
    return held.length;
  }

  /** Publishes under `epoch`: first the buffered batches past `replayFrom` (all when null), then live. */
  promote(epoch: number, replayFrom: number | null): { replayed: number; bufferFrom: number | null } {
    const bufferFrom = this.bufferFrom();
    this.epoch = epoch;
    this.claimSeen = true;
    const held = this.buffer.take(replayFrom ?? Number.NEGATIVE_INFINITY);
    for (const { batch, state } of held) this.publish(batch, state);
    this.flush();
    return { replayed: held.length, bufferFrom };
  }

  /** Stops publishing (open bundles are sent, what is in flight settles); later batches go to the replay buffer. */
  demote(): void {
    this.publishing!.flushAll();
    this.epoch = null;
  }

  /** Logs what the full replay buffer dropped since the last call (the coordinator calls it each round). */
  reportOverflow(): void {
    const { batches, ticks, bytes } = this.buffer.overflow;
    if (batches === this.reported.batches) return;
    logSignal(this.logger, 'relay_replay_overflow', {
      shard: this.shard.id,
      batches: batches - this.reported.batches,
      ticks: ticks - this.reported.ticks,
      bytes: bytes - this.reported.bytes,
      bufferBytes: this.buffer.bytes,
    });
    this.reported = { batches, ticks, bytes };
  }

  /** The minimum over the shard's streams of what the broker acknowledged (ms); null before any. */
  publishedTo(): number | null {
    let min: number | null = null;
    for (const s of this.streams) {
      if (s.coveredTo !== null && (min === null || s.coveredTo < min)) min = s.coveredTo;
    }
    return min;
  }

  /**
   * Where this replica covers every stream of the shard from (first-claim.ts), null until each has had data:
   * a stream opens coverage at its first tick, later for a sparse or stateful type than for the others.
   */
  claimFrom(): number | null {
    return this.streams.every((s) => s.subscribed) ? this.bufferFrom() : null;
  }

  /** The replay buffer's unbroken coverage start (replay-buffer.ts), null when not covering. */
  bufferFrom(): number | null {
    return this.buffer.coveredFrom(this.streams);
  }

  report(rank: number | undefined): ShardReport {
    const publishing = this.role.role !== 'standby';
    return {
      role: this.role.role,
      epoch: this.role.role === 'standby' ? null : this.role.epoch,
      publishedTo: publishing ? this.publishedTo() : null,
      bufferFrom: publishing ? null : this.bufferFrom(),
      rank: rank ?? null,
    };
  }

  /**
   * The streams' status. A standby's stream counts as recorded up to the end of what its replay buffer
   * holds: it can publish that on take-over (the primary's own health speaks for the broker side).
   */
  status(): StreamStatus[] {
    const statuses = this.service.status();
    if (this.isPublishing) return statuses;
    return statuses.map((s, i) => {
      const held = this.buffer.heldTo(this.streams[i]!);
      const coveredTo = held !== null && (s.coveredTo === null || held > s.coveredTo) ? held : s.coveredTo;
      return { ...s, coveredTo, standby: true };
    });
  }

  /**
   * Stops the feed and, if publishing, closes and publishes the open windows (RelayService.stop). A replica
   * that never read a claim of its shard publishes everything it holds and cuts: no publisher may have it.
   */
  stop(): Promise<void> {
    if (!this.claimSeen && !this.service.isStopping) {
      this.releaseBefore = Number.POSITIVE_INFINITY;
      this.claimSeen = true;
      for (const { batch, state } of this.buffer.take(Number.NEGATIVE_INFINITY)) this.publish(batch, state);
    }
    return this.service.stop();
  }

  /** The coverage a publisher claims for yielding: what the broker acknowledged, else up to now. */
  coveredTo(): number {
    return this.publishedTo() ?? this.clock.now();
  }
}
