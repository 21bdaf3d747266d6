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
