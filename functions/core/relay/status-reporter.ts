import type { Clock, HeartbeatStore, Logger, RelayHeartbeat } from '../ports.ts';
import { evaluateHealth, type HealthReport } from './health.ts';
import type { RelayCounters } from './counters.ts';
import type { RelayService } from './relay-service.ts';

/** What the reporter reads of a relay: a RelayService, or a fleet member's FleetRelay. */
export type ReportedRelay = Pick<
  RelayService,
  'counters' | 'startedAt' | 'status' | 'isStopping' | 'bufferedBytes' | 'takeLatency'
>;

export interface MemoryUsage {
  readonly rss: number;
  readonly heapUsed: number;
}

export interface StatusReporterOptions {
  readonly relayId: string;
  readonly revision: string | null;
  readonly host: string | null;
  readonly staleAfterMs: number;
  readonly heartbeatIntervalMs: number;
  /** Heartbeat documents expire this long after their last write. */
  readonly heartbeatTtlMs: number;
  readonly metricsIntervalMs: number;
  readonly memory: () => MemoryUsage;
}

/**
 * Watches a RelayService: answers health questions, logs a metrics line every `metricsIntervalMs`
 * and writes the instance's heartbeat document every `heartbeatIntervalMs`. Failures to write a
 * heartbeat are logged and never affect recording.
 */
export class StatusReporter {
  private timers: NodeJS.Timeout[] = [];
  private writing: Promise<void> | undefined;
  private lastMetricsAt: number;
  private lastCounters: RelayCounters;

  constructor(
    private readonly relay: ReportedRelay,
    private readonly store: HeartbeatStore | undefined,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: StatusReporterOptions,
  ) {
    this.lastMetricsAt = clock.now();
    this.lastCounters = { ...relay.counters };
  }

  start(): void {
    if (this.timers.length > 0) return;
    this.timers.push(setInterval(() => this.logMetrics(), this.options.metricsIntervalMs));
    if (this.store) {
      this.timers.push(setInterval(() => void this.beat(), this.options.heartbeatIntervalMs));
      void this.beat();
    }
    for (const timer of this.timers) timer.unref();
  }

  /** Stops the timers and writes a last heartbeat (awaited, bounded by the caller's deadline). */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.writing;
    if (this.store) await this.beat();
  }

  health(): HealthReport {
    return evaluateHealth(
      this.relay.status(),
      { now: this.clock.now(), startedAt: this.relay.startedAt, stopping: this.relay.isStopping },
      { staleAfterMs: this.options.staleAfterMs },
    );
  }

  /** The /healthz body: health, counters, gauges. */
  snapshot(): Record<string, unknown> {
    const health = this.health();
    return {
      relayId: this.options.relayId,
      ready: health.ready,
      healthy: health.healthy,
      reasons: health.reasons,
      counters: { ...this.relay.counters },
      bufferedBytes: this.relay.bufferedBytes,
      memory: this.options.memory(),
      startedAt: this.relay.startedAt,
      streams: health.streams,
    };
  }

  logMetrics(): void {
    const now = this.clock.now();
    const counters = { ...this.relay.counters };
    const seconds = Math.max(0.001, (now - this.lastMetricsAt) / 1000);
    const rate = (key: keyof RelayCounters) => Math.round((counters[key] - this.lastCounters[key]) / seconds);
    const health = this.health();
    this.logger.log('INFO', 'relay metrics', {
      intervalS: Math.round(seconds * 10) / 10,
      ticksInPerS: rate('ticksIn'),
      batchesOutPerS: rate('batchesOut'),
      publishLatencyMs: this.relay.takeLatency(),
      bufferedBytes: this.relay.bufferedBytes,
      inFlightBytes: counters.inFlightBytes,
      inFlightBatches: counters.inFlightBatches,
      memory: this.options.memory(),
      counters,
      ready: health.ready,
      healthy: health.healthy,
      streams: Object.fromEntries(
        health.streams.map((s) => [
          s.stream,
          { covering: s.covering, coverageLagMs: s.coverageLagMs, freshnessLagMs: s.freshnessLagMs },
        ]),
      ),
    });
    this.lastMetricsAt = now;
    this.lastCounters = counters;
  }

  private beat(): Promise<void> {
    if (!this.store || this.writing) return this.writing ?? Promise.resolve();
    const store = this.store;
    const now = this.clock.now();
    const health = this.health();
    const lastPublishAt = health.streams.reduce<number | null>(
      (latest, s) =>
        s.lastPublishAt !== null && (latest === null || s.lastPublishAt > latest) ? s.lastPublishAt : latest,
      null,
    );
    const heartbeat: RelayHeartbeat = {
      relayId: this.options.relayId,
      revision: this.options.revision,
      host: this.options.host,
      startedAt: this.relay.startedAt,
      updatedAt: now,
      ready: health.ready,
      healthy: health.healthy,
      lastPublishAt,
      streams: health.streams.map((s) => ({
        stream: s.stream,
        covering: s.covering,
        coveredTo: s.coveredTo,
        lastTickAt: s.lastTickAt,
        coverageLagMs: s.coverageLagMs,
      })),
      counters: { ...this.relay.counters },
    };
    this.writing = store
      .write(heartbeat, now + this.options.heartbeatTtlMs)
      .catch((error: unknown) => {
        this.logger.log('WARNING', 'relay heartbeat write failed', { error });
      })
      .finally(() => {
        this.writing = undefined;
      });
    return this.writing;
  }
}
