import { streamId } from '../model/streams.ts';
import type { GapfillDeps } from './deps.ts';
import { detect } from './detect.ts';
import { dueForFill, refusedKeyPause, retryInterrupted } from './fill-decision.ts';
import { fillOne } from './fill.ts';
import { fillableAt, type Gap, type GapState } from './gaps.ts';
import { logSignal } from '../shared/signals.ts';
import { gapFields } from './log-fields.ts';
import { mirror } from './mirror.ts';

export interface GapfillRun {
  readonly leased: boolean;
  readonly detected: number;
  readonly filled: number;
  readonly failed: number;
  readonly unfillable: number;
  readonly rowsBackfilled: number;
  readonly openAfter: number;
  readonly durationMs: number;
}

const RETRYABLE: readonly GapState[] = ['open', 'failed'];

/**
 * One gap-filler run: take the lease, detect holes per stream, record them in the ledger, fill every
 * fillable gap from history through the same row shaping and row ids as the writer, commit coverage
 * for the gap, and mirror each state change into the warehouse's `gaps` table.
 */
export async function runGapfill(deps: GapfillDeps): Promise<GapfillRun> {
  const { options, clock, logger, leases } = deps;
  const startedAt = clock.now();
  const run = { detected: 0, filled: 0, failed: 0, unfillable: 0, rowsBackfilled: 0 };
  if (!(await leases.acquire(options.leaseName, deps.holder, options.leaseTtlMs))) {
    logger.log('INFO', 'another gap-filler run holds the lease; skipping', { holder: deps.holder });
    return { leased: false, ...run, openAfter: 0, durationMs: clock.now() - startedAt };
  }
  try {
    await recoverInterrupted(deps);
    for (const gap of await detect(deps, options.streams)) {
      if (await deps.ledger.record(gap)) {
        run.detected++;
        await mirror(deps, gap);
        logSignal(logger, 'gap_detected', gapFields(gap));
      }
    }
    await fillAll(deps, run, startedAt);
    const open = await deps.ledger.list({ states: ['open', 'failed', 'filling'] });
    await reportAges(deps, open);
    return { leased: true, ...run, openAfter: open.length, durationMs: clock.now() - startedAt };
  } finally {
    await leases.release(options.leaseName, deps.holder).catch((error: unknown) => {
      logger.log('WARNING', 'lease release failed; it will expire', { error });
    });
  }
}

/** Gaps left `filling` by a run that died go back to `failed`, due now (see retryInterrupted). */
async function recoverInterrupted(deps: GapfillDeps): Promise<void> {
  const { ledger, clock, logger } = deps;
  for (const gap of await ledger.list({ states: ['filling'] })) {
    const next = retryInterrupted(gap, clock.now());
    if (await ledger.transition(gap.id, 'filling', next)) {
      logger.log('WARNING', 'gap left filling by an interrupted run; will retry', gapFields(gap));
      await mirror(deps, next);
    }
  }
}

async function fillAll(
  deps: GapfillDeps,
  run: { filled: number; failed: number; unfillable: number; rowsBackfilled: number },
  startedAt: number,
): Promise<void> {
  const { ledger, clock, options, logger } = deps;
  const retryable = await ledger.list({ states: RETRYABLE });
  const refused = refusedKeyPause(retryable, clock.now());
  if (refused) {
    logger.log('ERROR', 'fills paused: the history API refused the API key; check TARDIS_API_KEY', {
      nextAttemptAt: new Date(refused.nextAttemptAt).toISOString(),
      gapId: refused.id,
    });
    return;
  }
  const candidates = dueForFill(retryable, clock.now(), options);
  for (const gap of candidates) {
    if (clock.now() - startedAt > options.runBudgetMs) {
      logger.log('NOTICE', 'run budget spent; remaining gaps wait for the next run', {
        remaining: candidates.length,
      });
      return;
    }
    const outcome = await fillOne(deps, gap);
    if (outcome === 'filled') run.filled++;
    else if (outcome === 'unfillable') run.unfillable++;
    else run.failed++;
    if (outcome === 'filled') run.rowsBackfilled += (await ledger.get(gap.id))?.rowsBackfilled ?? 0;
    // A refused API key refuses every gap: one clear error per run, no retry storm.
    if (outcome === 'unauthorized') return;
  }
}

/** Log lines the monitoring alerts are built on (see infra/modules/monitoring), every run. */
async function reportAges(deps: GapfillDeps, open: readonly Gap[]): Promise<void> {
  const { clock, logger, options } = deps;
  const now = clock.now();
  const checkpoints = await deps.checkpoints.list();
  for (const stream of options.streams) {
    const checkpoint = checkpoints.find((c) => streamId(c.stream) === streamId(stream));
    logSignal(logger, 'checkpoint_age', {
      stream: streamId(stream),
      checkpointAgeMs: checkpoint ? now - checkpoint.coveredTo : null,
    });
  }
  for (const gap of open) {
    const stream = streamId(gap.stream);
    logSignal(logger, 'open_gap_age', {
      stream,
      gapId: gap.id,
      gapAgeMs: now - gap.createdAt,
      state: gap.state,
    });
    // A gap the relay recorded has no fillableAt until its first fill; its end gives the same time.
    const fillable = gap.fillableAt ?? fillableAt(gap.to, options);
    if (now > fillable) {
      logSignal(logger, 'gap_fill_overdue', {
        stream,
        gapId: gap.id,
        overdueMs: now - fillable,
        state: gap.state,
      });
    }
  }
}
