/**
 * Every decision the gap-filler makes about fill attempts, as pure functions: which gaps to try now,
 * and what a gap becomes after an attempt (filled, retried later with backoff, or given up).
 * The I/O around them (ledger, warehouse, history, logs) is in fill.ts and gapfill-service.ts.
 */
import { TransientInsertError } from '../shared/durable-insert.ts';
import { errorMessage } from '../shared/errors.ts';
import { backoffMs } from '../shared/retry.ts';
import { fillableAt, type FillTiming, type Gap } from './gaps.ts';
import { HistoryError, type HistoryFailure } from './history.ts';
import type { GapfillOptions } from './options.ts';

/** The reason prefix of a gap whose history fetch was refused for the API key. */
export const KEY_REFUSED = 'history API refused the key';

/** Why an attempt failed, as far as the decision needs to know. */
export interface AttemptFailure {
  /** How the history fetch failed, when it was the history fetch that failed. */
  readonly history: HistoryFailure | null;
  readonly message: string;
  /** The attempt's own deadline (attemptTimeoutMs) ended it. */
  readonly timedOut: boolean;
}

/** What one fill attempt came to: the rows it wrote, or why it failed. */
export type Attempt =
  | { readonly ok: true; readonly rows: number }
  | { readonly ok: false; readonly failure: AttemptFailure };

/** How an attempt ended; `unauthorized` also ends the run's fills (every gap would be refused). */
export type AttemptOutcome = 'filled' | 'failed' | 'unfillable' | 'unauthorized';

export interface FillDecision {
  readonly next: Gap;
  readonly outcome: AttemptOutcome;
}

/** The options the decision reads. */
export type RetryPolicy = Pick<
  GapfillOptions,
  'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'unauthorizedBackoffMs' | 'attemptTimeoutMs'
>;

/** When a gap may be filled: as recorded at detection, else from its end (gaps the relay recorded). */
export function dueAt(gap: Gap, timing: FillTiming): number {
  return gap.fillableAt ?? fillableAt(gap.to, timing);
}

/**
 * The gap whose refused API key still pauses all fills, if any: while its backoff runs no gap is
 * tried, so a refused key costs one 401 per backoff period, not one per gap.
 */
export function refusedKeyPause(gaps: readonly Gap[], now: number): Gap | undefined {
  return gaps.find((g) => g.reason?.startsWith(KEY_REFUSED) && g.nextAttemptAt > now);
}

/** The gaps to try now, oldest first: past their backoff and fillable (history is complete). */
export function dueForFill(gaps: readonly Gap[], now: number, timing: FillTiming): Gap[] {
  return gaps
    .filter((g) => g.nextAttemptAt <= now && dueAt(g, timing) <= now)
    .sort((a, b) => a.from - b.from);
}

/** The gap as an attempt starts: `filling`, one more attempt, and when it became fillable. */
export function startAttempt(gap: Gap, now: number, timing: FillTiming): Gap {
  return {
    ...gap,
    state: 'filling',
    attempts: gap.attempts + 1,
    fillableAt: dueAt(gap, timing),
    updatedAt: now,
  };
}

/** A gap left `filling` by a run that died: retried now (the lease says nobody else is filling it). */
export function retryInterrupted(gap: Gap, now: number): Gap {
  return { ...gap, state: 'failed', reason: 'interrupted run', nextAttemptAt: now, updatedAt: now };
}

/** Classifies what an attempt threw; `aborted` is whether its deadline signal had fired. */
export function attemptFailure(error: unknown, aborted: boolean): AttemptFailure {
  return {
    history: error instanceof HistoryError ? error.failure : null,
    message: errorMessage(error),
    // A refused insert can outlast the deadline too: it is an insert failure, not a timeout.
    timedOut: aborted && !(error instanceof TransientInsertError),
  };
}

/**
 * The gap's next state after an attempt on `filling` (the gap as the attempt started). A refused key
 * waits unauthorizedBackoffMs however many attempts were made; a window outside the provider's data is
 * unfillable at once; other failures back off (retryBaseMs doubling up to retryMaxMs, with jitter from
 * `random`) until maxAttempts, then the gap is unfillable.
 */
export function decideFill(
  filling: Gap,
  attempt: Attempt,
  now: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): FillDecision {
  if (attempt.ok) {
    const next: Gap = {
      ...filling,
      state: 'filled',
      rowsBackfilled: attempt.rows,
      reason: null,
      filledAt: now,
      updatedAt: now,
    };
    return { next, outcome: 'filled' };
  }
  const { history, message: why, timedOut } = attempt.failure;
  if (history === 'unauthorized') {
    const next: Gap = {
      ...filling,
      state: 'failed',
      reason: `${KEY_REFUSED}: ${why}`,
      nextAttemptAt: now + policy.unauthorizedBackoffMs,
      updatedAt: now,
    };
    return { next, outcome: 'unauthorized' };
  }
  if (history === 'out_of_range') {
    const next: Gap = {
      ...filling,
      state: 'unfillable',
      reason: `outside history coverage: ${why}`,
      updatedAt: now,
    };
    return { next, outcome: 'unfillable' };
  }
  if (filling.attempts >= policy.maxAttempts) {
    const next: Gap = {
      ...filling,
      state: 'unfillable',
      reason: `gave up after ${filling.attempts} attempts: ${why}`,
      updatedAt: now,
    };
    return { next, outcome: 'unfillable' };
  }
  const next: Gap = {
    ...filling,
    state: 'failed',
    reason: timedOut ? `attempt timed out after ${policy.attemptTimeoutMs} ms: ${why}` : why,
    nextAttemptAt: now + backoffMs(filling.attempts - 1, policy.retryBaseMs, policy.retryMaxMs, random),
    updatedAt: now,
  };
  return { next, outcome: 'failed' };
}
