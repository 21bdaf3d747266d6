import { createHash } from 'node:crypto';
import { streamId, type StreamKey } from '../model/streams.ts';

/**
 * The gap ledger's model. A gap is a half-open interval [from, to) of wall-clock milliseconds during
 * which a stream was not recorded. It moves open -> filling -> filled; a failed attempt goes back to
 * `failed` with a backoff (retried later), and a gap that can never be filled is `unfillable`.
 */
export type GapState = 'open' | 'filling' | 'filled' | 'failed' | 'unfillable';

/** How a gap was found. */
export type GapDetector = 'coverage' | 'trade_ids' | 'stale_checkpoint' | 'relay_startup' | 'manual';

export interface Gap {
  readonly id: string;
  readonly stream: StreamKey;
  readonly from: number;
  readonly to: number;
  readonly detectedBy: GapDetector;
  readonly state: GapState;
  readonly attempts: number;
  /** Earliest time (ms) of the next fill attempt, for failed gaps. */
  readonly nextAttemptAt: number;
  readonly rowsBackfilled: number;
  readonly reason: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /**
   * When the gap became fillable (ms, see `fillableAt`): recorded by the gap-filler at detection, or
   * when it first fills a gap someone else recorded; null until then.
   */
  readonly fillableAt: number | null;
  /** When the gap was last marked `filled` (ms); null until then. */
  readonly filledAt: number | null;
}

/** The two waits before a gap can be filled (GapfillOptions has both). */
export interface FillTiming {
  /** Only time older than now - settleMs is judged, so a hole is detected no earlier than its end + settleMs. */
  readonly settleMs: number;
  /** History is complete this long after the fact. */
  readonly availabilityDelayMs: number;
}

/**
 * When a gap ending at `to` becomes fillable: both waits count from its end, so the later one decides.
 * The gap-filler fills no gap before this time, and this is the start of the fill-latency target
 * ("a gap shorter than 5 minutes is filled within 5 minutes of becoming fillable").
 */
export function fillableAt(to: number, timing: FillTiming): number {
  return to + Math.max(timing.settleMs, timing.availabilityDelayMs);
}

/** Deterministic gap id, so detecting the same hole twice records it once. */
export function gapId(stream: StreamKey, from: number, to: number): string {
  const key = `${streamId(stream)}|${from}|${to}`;
  return createHash('sha256').update(key).digest('base64url').slice(0, 20);
}

export function newGap(
  stream: StreamKey,
  from: number,
  to: number,
  detectedBy: GapDetector,
  now: number,
  timing?: FillTiming,
): Gap {
  if (!(to > from)) throw new Error(`gap must have to > from, got [${from}, ${to})`);
  return {
    id: gapId(stream, from, to),
    stream,
    from,
    to,
    detectedBy,
    state: 'open',
    attempts: 0,
    nextAttemptAt: now,
    rowsBackfilled: 0,
    reason: null,
    createdAt: now,
    updatedAt: now,
    fillableAt: timing ? fillableAt(to, timing) : null,
    filledAt: null,
  };
}
