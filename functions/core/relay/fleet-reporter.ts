import type { LeaseStore, Logger } from '../ports.ts';
import { logSignal } from '../shared/signals.ts';

/** The lease naming the member that reports for the whole fleet. */
export const FLEET_REPORTER_LEASE = 'relay-fleet-reporter';

export interface FleetReporterOptions {
  readonly self: string;
  /** How often the holder reports (and renews the lease). */
  readonly intervalMs: number;
  /** The lease outlives a silent holder by this much; then another member takes the role. */
  readonly ttlMs: number;
}

/**
 * The fleet-wide role: whichever member holds the lease (never a fixed "instance 0") logs, every interval,
 * the shards without a live primary. Two reporters for a moment (clock skew between the members judging the
 * lease's expiry) only repeat a line, so a plain lease is enough here; data never depends on it.
 */
export class FleetReporter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly leases: LeaseStore,
    private readonly unowned: () => readonly string[] | undefined,
    private readonly logger: Logger,
    private readonly options: FleetReporterOptions,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** One report if this member holds (or takes) the lease; resolves with whether it reported. */
  tick(): Promise<void> {
    this.running ??= this.report().finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.leases.release(FLEET_REPORTER_LEASE, this.options.self).catch(() => undefined);
  }

  private async report(): Promise<void> {
    const { self, ttlMs } = this.options;
    const held = await this.leases.acquire(FLEET_REPORTER_LEASE, self, ttlMs).catch((error: unknown) => {
      this.logger.log('DEBUG', 'fleet reporter lease not reachable', { error });
      return false;
    });
    const shards = held ? this.unowned() : undefined;
    if (shards === undefined || shards.length === 0) return;
    logSignal(this.logger, 'fleet_shard_unowned', { event: 'fleet_shard_unowned', shards });
  }
}
