/** Counters of one writer instance since it started. */
export interface WriterCounters {
  /** Push requests handled (every status). */
  deliveries: number;
  /** Deliveries acknowledged with their rows stored (some ticks may have been quarantined). */
  committed: number;
  /** Deliveries acknowledged with the whole message in quarantine (poison). */
  quarantinedMessages: number;
  /** Requests that were not Pub/Sub pushes (4xx). */
  rejected: number;
  /** Deliveries answered 503 so that Pub/Sub redelivers them. */
  retryResponses: number;
  /** Tick rows the warehouse accepted (a redelivered batch counts again). */
  rowsWritten: number;
  /** Quarantine entries stored (messages and ticks). */
  quarantinedRows: number;
  /** insertAll requests sent (merged requests count once). */
  insertRequests: number;
  /** insertAll requests that failed as a whole (5xx, 429, timeout, network). */
  insertRequestErrors: number;
  /** Retry attempts after a failed request or failed rows, and the rows they re-sent. */
  insertRetries: number;
  rowsRetried: number;
}

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const SAMPLE_CAP = 4096;

/** Insert latencies of the current reporting interval (a bounded sample: the first SAMPLE_CAP). */
export class LatencyWindow {
  private sample: number[] = [];
  private count = 0;
  private sum = 0;
  private max = 0;

  record(ms: number): void {
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (this.sample.length < SAMPLE_CAP) this.sample.push(ms);
  }

  /** Count, mean and max only: cheap enough for every response. */
  quick(): Pick<LatencySummary, 'count' | 'meanMs' | 'maxMs'> {
    return {
      count: this.count,
      meanMs: this.count === 0 ? 0 : round(this.sum / this.count),
      maxMs: round(this.max),
    };
  }

  summary(): LatencySummary {
    const sorted = [...this.sample].sort((a, b) => a - b);
    const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
    return {
      count: this.count,
      meanMs: this.count === 0 ? 0 : round(this.sum / this.count),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: round(this.max),
    };
  }

  reset(): void {
    this.sample = [];
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }
}

export function newCounters(): WriterCounters {
  return {
    deliveries: 0,
    committed: 0,
    quarantinedMessages: 0,
    rejected: 0,
    retryResponses: 0,
    rowsWritten: 0,
    quarantinedRows: 0,
    insertRequests: 0,
    insertRequestErrors: 0,
    insertRetries: 0,
    rowsRetried: 0,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
