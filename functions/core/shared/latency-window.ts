/** Latency figures of one reporting interval, rounded to 0.1 ms, zeros when nothing was recorded. */
export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Latencies (ms) of one reporting interval: count, mean and max over every one recorded, percentiles over
 * a bounded sample (the first `capacity` of the interval, plenty at a few hundred per second).
 */
export class LatencyWindow {
  private samples: number[] = [];
  private n = 0;
  private total = 0;
  private peak = 0;

  constructor(private readonly capacity = 4096) {}

  record(ms: number): void {
    this.n++;
    this.total += ms;
    if (ms > this.peak) this.peak = ms;
    if (this.samples.length < this.capacity) this.samples.push(ms);
  }

  get count(): number {
    return this.n;
  }

  /** The largest latency recorded, unrounded; null when none. */
  get max(): number | null {
    return this.n === 0 ? null : this.peak;
  }

  /** Nearest-rank quantile of the sample (the value at floor(q * n) in order), unrounded; null when empty. */
  quantile(q: number): number | null {
    const sorted = this.samples.sort((a, b) => a - b);
    return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }

  /** Count, mean and max only: cheap enough for every response. */
  quick(): Pick<LatencySummary, 'count' | 'meanMs' | 'maxMs'> {
    return { count: this.n, meanMs: this.meanMs(), maxMs: round(this.peak) };
  }

  summary(): LatencySummary {
    return {
      count: this.n,
      meanMs: this.meanMs(),
      p50Ms: round(this.quantile(0.5) ?? 0),
      p99Ms: round(this.quantile(0.99) ?? 0),
      maxMs: round(this.peak),
    };
  }

  reset(): void {
    this.samples = [];
    this.n = 0;
    this.total = 0;
    this.peak = 0;
  }

  private meanMs(): number {
    return this.n === 0 ? 0 : round(this.total / this.n);
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
