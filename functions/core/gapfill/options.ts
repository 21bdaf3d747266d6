import type { StreamKey } from '../model/streams.ts';

export interface GapfillOptions {
  /** The streams that should be recorded (the relay's configuration). */
  readonly streams: readonly StreamKey[];
  /** How far back detection looks. */
  readonly lookbackMs: number;
  /** Batches still in flight are not holes: only time older than now - settleMs is judged. */
  readonly settleMs: number;
  /** History is complete only this long after the fact (Tardis publishes with a delay of minutes). */
  readonly availabilityDelayMs: number;
  /** Backfill this much beyond each end of a gap (clock differences between relay and recorder). */
  readonly marginMs: number;
  /** Longer holes are recorded as several gaps of at most this length, aligned to it. */
  readonly maxGapMs: number;
  /** Give up a fill attempt after this long (tardis-dev retries some errors for minutes on its own). */
  readonly attemptTimeoutMs: number;
  /** After this many failed attempts a gap is `unfillable`. */
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Wait after the API key was refused before trying again. */
  readonly unauthorizedBackoffMs: number;
  /** Stop starting new fills after this long into a run (the Scheduler's attempt deadline is longer). */
  readonly runBudgetMs: number;
  readonly leaseName: string;
  readonly leaseTtlMs: number;
  readonly insertAttempts: number;
}

export const DEFAULT_GAPFILL_OPTIONS = {
  lookbackMs: 6 * 3600_000,
  settleMs: 20_000,
  availabilityDelayMs: 5 * 60_000,
  marginMs: 2_000,
  maxGapMs: 15 * 60_000,
  attemptTimeoutMs: 120_000,
  maxAttempts: 10,
  retryBaseMs: 30_000,
  retryMaxMs: 30 * 60_000,
  unauthorizedBackoffMs: 15 * 60_000,
  runBudgetMs: 240_000,
  leaseName: 'gapfill',
  leaseTtlMs: 300_000,
  insertAttempts: 4,
} as const;
