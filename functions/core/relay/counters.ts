/** Counters of one relay process, since it started. Monotonic except the gauges marked as such. */
export interface RelayCounters {
  /** Ticks the feed delivered for configured streams and the relay accepted into a batch. */
  ticksIn: number;
  /** Ticks delivered for streams that are not configured (they still prove the connection alive). */
  ticksIgnored: number;
  /** Ticks delivered after intake stopped at shutdown (outside every window; should stay 0). */
  ticksAfterStop: number;
  batchesOut: number;
  /** Empty batches (heartbeats and window closes without ticks) among batchesOut. */
  heartbeatsOut: number;
  ticksPublished: number;
  bytesPublished: number;
  publishFailures: number;
  ticksLostPublish: number;
  /** Batches refused because the in-flight bound was full. */
  backpressureDrops: number;
  ticksLostBackpressure: number;
  /** Milliseconds of coverage windows lost to failed or refused publishes (sum over streams). */
  uncoveredMs: number;
  disconnects: number;
  /** Gauge: bytes handed to the publisher and not settled yet. */
  inFlightBytes: number;
  /** Gauge: batches handed to the publisher and not settled yet. */
  inFlightBatches: number;
  publishLatencyMsTotal: number;
}

export function newCounters(): RelayCounters {
  return {
    ticksIn: 0,
    ticksIgnored: 0,
    ticksAfterStop: 0,
    batchesOut: 0,
    heartbeatsOut: 0,
    ticksPublished: 0,
    bytesPublished: 0,
    publishFailures: 0,
    ticksLostPublish: 0,
    backpressureDrops: 0,
    ticksLostBackpressure: 0,
    uncoveredMs: 0,
    disconnects: 0,
    inFlightBytes: 0,
    inFlightBatches: 0,
    publishLatencyMsTotal: 0,
  };
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/**
 * Publish latencies of the current reporting interval: a bounded sample (the first `capacity` of the
 * interval, plenty at a few hundred batches per second), summarised and reset by `take()`.
 */
export class LatencyWindow {
  private samples: number[] = [];
  private count = 0;
  private max = 0;

  constructor(private readonly capacity = 4096) {}

  record(ms: number): void {
    this.count++;
    if (ms > this.max) this.max = ms;
    if (this.samples.length < this.capacity) this.samples.push(ms);
  }

  take(): LatencySummary {
    const sorted = this.samples.sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    const summary = {
      count: this.count,
      p50: at(0.5),
      p99: at(0.99),
      max: this.count === 0 ? null : this.max,
    };
    this.samples = [];
    this.count = 0;
    this.max = 0;
    return summary;
  }
}
