/** One fill attempt's I/O: claim the gap, backfill it, record what fill-decision.ts decides, log it. */
import { backfill } from './backfill.ts';
import type { GapfillDeps } from './deps.ts';
import {
  attemptFailure,
  decideFill,
  startAttempt,
  type Attempt,
  type AttemptOutcome,
} from './fill-decision.ts';
import type { Gap } from './gaps.ts';
import { gapFields, iso } from './log-fields.ts';
import { mirror } from './mirror.ts';
import { logSignal } from '../shared/signals.ts';

/** How fillOne ended; `skipped` when another run changed the gap first. */
export type FillOutcome = AttemptOutcome | 'skipped';

export async function fillOne(deps: GapfillDeps, gap: Gap): Promise<FillOutcome> {
  const { ledger, clock, options } = deps;
  const filling = startAttempt(gap, clock.now(), options);
  if (!(await ledger.transition(gap.id, gap.state, filling))) return 'skipped';
  await mirror(deps, filling);
  const signal = AbortSignal.timeout(options.attemptTimeoutMs);
  try {
    const rows = await backfill(deps, gap, signal);
    return await settle(deps, filling, { ok: true, rows });
  } catch (error) {
    // Recording a filled gap can fail too: then the gap is settled as a failed attempt.
    return await settle(deps, filling, { ok: false, failure: attemptFailure(error, signal.aborted) });
  }
}

/** Decides the gap's next state, writes it to the ledger and its mirror, and logs it. */
async function settle(deps: GapfillDeps, filling: Gap, attempt: Attempt): Promise<AttemptOutcome> {
  const { ledger, clock, options, logger } = deps;
  const now = clock.now();
  const { next, outcome } = decideFill(filling, attempt, now, options);
  if (outcome === 'unauthorized') logSignal(logger, 'gapfill_key_refused', gapFields(next));
  await ledger.transition(filling.id, 'filling', next);
  await mirror(deps, next);
  if (outcome === 'filled') {
    logger.log('NOTICE', 'gap filled', {
      ...gapFields(next),
      rows: next.rowsBackfilled,
      fillableAt: iso(next.fillableAt),
      fillLatencyMs: next.fillableAt === null ? null : now - next.fillableAt,
    });
  } else if (outcome !== 'unauthorized') {
    logSignal(logger, outcome === 'unfillable' ? 'gap_unfillable' : 'gap_failed', gapFields(next));
  }
  return outcome;
}
