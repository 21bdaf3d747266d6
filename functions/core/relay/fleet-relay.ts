import type { FleetOptions } from '../fleet/options.ts';
import { planShards, type Shard } from '../fleet/shards.ts';
import type { FleetStore } from '../fleet/store.ts';
import type { StreamKey } from '../model/streams.ts';
import type { Clock, LeaseStore, Logger, TickFeed, TickPublisher } from '../ports.ts';
import { logSignal } from '../shared/signals.ts';
import { newCounters, type RelayCounters } from './counters.ts';
import { FleetCoordinator } from './fleet-coordinator.ts';
import { FleetReporter } from './fleet-reporter.ts';
import { FleetShard } from './fleet-shard.ts';
import type { PublishLatency } from './publishing.ts';
import type { RelayOptions } from './relay-service.ts';
import type { StreamStatus } from './stream-registry.ts';

export interface FleetRelayOptions {
  readonly self: string;
  readonly pool: string;
  readonly streams: readonly StreamKey[];
  readonly fleet: FleetOptions;
  /** Bound on each standby shard's replay buffer (bytes). */
  readonly bufferBytes: number;
  /** Each shard's relay service options (its in-flight bound applies per shard). */
  readonly relay: Omit<RelayOptions, 'streams' | 'sink'>;
}

/**
 * A relay in a fleet: the configured streams split into shards (planShards), a replica (FleetShard: one
 * feed, one relay service) of each shard this member is assigned, and the coordinator that decides which
 * replicas publish. It answers the questions a RelayService answers, so the status reporter and the
 * health endpoint work on it unchanged.
 */
export class FleetRelay {
  readonly startedAt: number;
  readonly shards: readonly Shard[];
  private readonly coordinator: FleetCoordinator;
  private readonly reporter: FleetReporter;
  /** Counters of replicas already closed, so the totals stay monotonic. */
  private readonly retired: RelayCounters = newCounters();
  private readonly failure: Promise<void>;
  private fail: (error: unknown) => void = () => undefined;
  private finish: () => void = () => undefined;
  private stopping: Promise<void> | undefined;
  private readonly opens = new Map<string, number>();

  constructor(
    private readonly feedFor: (streams: readonly StreamKey[]) => TickFeed,
    private readonly publisher: TickPublisher,
    store: FleetStore,
    leases: LeaseStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: FleetRelayOptions,
    monotonic: () => number = () => performance.now(),
  ) {
    this.startedAt = clock.now();
    this.shards = planShards(options.streams, options.fleet);
    this.failure = new Promise<void>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
    const host = { open: (shard: Shard) => this.open(shard), close: (held: FleetShard) => this.close(held) };
    this.coordinator = new FleetCoordinator(this.shards, store, host, clock, monotonic, logger, {
      ...options.fleet,
      self: options.self,
      pool: options.pool,
      startedAt: this.startedAt,
    });
    const { leaseMs } = options.fleet;
    this.reporter = new FleetReporter(leases, () => this.coordinator.unowned(), logger, {
      self: options.self,
      intervalMs: leaseMs,
      ttlMs: 3 * leaseMs,
    });
  }

  /** Joins the fleet; resolves when stopped, rejects when a shard's feed fails (e.g. a refused stream). */
  start(): Promise<void> {
    this.logger.log('INFO', 'fleet member starting', {
      shards: this.shards.map((s) => ({ id: s.id, streams: s.streams.length })),
      pool: this.options.pool,
    });
    this.coordinator.start();
    this.reporter.start();
    return this.failure;
  }

  /**
   * Make-before-break: hands every shard it publishes over (until `handoverMs`), leaves the fleet, then
   * stops every replica (a shard still published is drained as a single relay drains) and the publisher.
   */
  stop(handoverMs = 0): Promise<void> {
    this.stopping ??= this.drain(handoverMs);
    return this.stopping;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  get held(): readonly FleetShard[] {
    return this.coordinator.heldShards;
  }

  status(): StreamStatus[] {
    return this.held.flatMap((s) => s.status());
  }

  get counters(): RelayCounters {
    const sum = { ...this.retired };
    for (const held of this.held) addCounters(sum, held.service.counters);
    return sum;
  }

  /** Bytes buffered in batchers, in flight, and held in replay buffers. */
  get bufferedBytes(): number {
    let bytes = 0;
    for (const held of this.held) bytes += held.service.bufferedBytes + held.buffer.bytes;
    return bytes;
  }

  /** Publish latencies since the previous call: counts summed, quantiles the worst shard's (an upper bound). */
  takeLatency(): PublishLatency {
    const all = this.held.map((s) => s.service.takeLatency()).filter((l) => l.count > 0);
    const worst = (key: 'p50' | 'p99' | 'max') =>
      all.length === 0 ? null : Math.max(...all.map((l) => l[key] ?? 0));
    return {
      count: all.reduce((n, l) => n + l.count, 0),
      p50: worst('p50'),
      p99: worst('p99'),
      max: worst('max'),
    };
  }

  private open(shard: Shard): FleetShard {
    // Each replica shares the publisher; closing it is the fleet's job, once, at the end.
    const shared: TickPublisher = { publish: (m) => this.publisher.publish(m), close: async () => {} };
    // A reopened replica's batchers count seq from 0 again: a new relay id keeps its batch ids unique.
    const opened = this.opens.get(shard.id) ?? 0;
    this.opens.set(shard.id, opened + 1);
    const relayId = opened === 0 ? this.options.relay.relayId : `${this.options.relay.relayId}-r${opened}`;
    const held = new FleetShard(
      shard,
      this.feedFor(shard.streams),
      shared,
      this.clock,
      this.logger,
      // No startup-gap check per replica: a standby's first coverage is not the shard's, and a stale
      // checkpoint (writer lag) made it record holes the primary covered. A take-over that cannot replay
      // logs fleet_replay_hole, and the gap-filler finds that hole from coverage.
      { ...this.options.relay, relayId, onFirstCoverage: undefined },
      this.options.bufferBytes,
    );
    this.logger.log('INFO', 'fleet replica opened', { shard: shard.id });
    held.start().catch((error: unknown) => this.fail(error));
    return held;
  }

  private close(held: FleetShard): void {
    // Closed before reading any claim, it publishes what it holds and its open windows (FleetShard.stop).
    const released = !held.claimed;
    this.logger.log('INFO', 'fleet replica closed', { shard: held.shard.id, released });
    void held.stop().then(() => addCounters(this.retired, held.service.counters));
  }

  private async drain(handoverMs: number): Promise<void> {
    const startedAt = this.clock.now();
    const handed = handoverMs > 0 ? await this.coordinator.leave(handoverMs) : false;
    const publishing = this.held.filter((s) => s.isPublishing).map((s) => s.shard.id);
    const fields = { afterMs: this.clock.now() - startedAt, stillPublishing: publishing };
    // Abandoned (nobody to hand to, or the deadline): a standby takes over only after the lease.
    if (handed) this.logger.log('NOTICE', 'fleet handover', { event: 'fleet_handover_done', ...fields });
    else logSignal(this.logger, 'fleet_handover_abandoned', { event: 'fleet_handover_abandoned', ...fields });
    await Promise.all([this.coordinator.stop(1000), this.reporter.stop()]);
    await Promise.all(this.held.map((s) => s.stop()));
    await this.publisher.close();
    this.finish();
  }
}

function addCounters(into: RelayCounters, add: RelayCounters): void {
  for (const key of Object.keys(into) as (keyof RelayCounters)[]) into[key] += add[key];
}
