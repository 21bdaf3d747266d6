import { TransientInsertError } from '../shared/durable-insert.ts';
import { backoffMs } from '../shared/retry.ts';
import { backfill } from './backfill.ts';
import type { GapfillDeps } from './deps.ts';
import { fillableAt, type Gap } from './gaps.ts';
import { HistoryError } from './history.ts';
import { gapFields, iso } from './log-fields.ts';
import { mirror } from './mirror.ts';
import type { GapfillOptions } from './options.ts';

export const KEY_REFUSED = 'history API refused the key';

export type FillOutcome = 'filled' | 'failed' | 'unfillable' | 'unauthorized' | 'skipped';

/** When a gap may be filled: as recorded at detection, else from its end (gaps the relay recorded). */
export function dueAt(gap: Gap, options: GapfillOptions): number {
  return gap.fillableAt ?? fillableAt(gap.to, options);
}

export async function fillOne(deps: GapfillDeps, gap: Gap): Promise<FillOutcome> {
  const { ledger, clock, options, logger } = deps;
  const filling: Gap = {
    ...gap,
    state: 'filling',
    attempts: gap.attempts + 1,
    fillableAt: dueAt(gap, options),
    updatedAt: clock.now(),
  };
  if (!(await ledger.transition(gap.id, gap.state, filling))) return 'skipped';
  await mirror(deps, filling);
  const signal = AbortSignal.timeout(options.attemptTimeoutMs);
  try {
    const rows = await backfill(deps, gap, signal);
    const now = clock.now();
    const filled: Gap = {
      ...filling,
      state: 'filled',
      rowsBackfilled: rows,
      reason: null,
      filledAt: now,
      updatedAt: now,
    };
    await ledger.transition(gap.id, 'filling', filled);
    await mirror(deps, filled);
    logger.log('NOTICE', 'gap filled', {
      ...gapFields(filled),
      rows,
      fillableAt: iso(filled.fillableAt),
      fillLatencyMs: filled.fillableAt === null ? null : now - filled.fillableAt,
    });
    return 'filled';
  } catch (error) {
    const now = clock.now();
    let next: Gap;
    let outcome: FillOutcome;
    const why = error instanceof Error ? error.message : String(error);
    if (error instanceof HistoryError && error.failure === 'unauthorized') {
      next = {
        ...filling,
        state: 'failed',
        reason: `${KEY_REFUSED}: ${why}`,
        nextAttemptAt: now + options.unauthorizedBackoffMs,
        updatedAt: now,
      };
      outcome = 'unauthorized';
      logger.log(
        'ERROR',
        'history API refused the API key; check TARDIS_API_KEY. No more fills this run.',
        gapFields(next),
      );
    } else if (error instanceof HistoryError && error.failure === 'out_of_range') {
      next = { ...filling, state: 'unfillable', reason: `outside history coverage: ${why}`, updatedAt: now };
      outcome = 'unfillable';
    } else if (filling.attempts >= options.maxAttempts) {
      next = {
        ...filling,
        state: 'unfillable',
        reason: `gave up after ${filling.attempts} attempts: ${why}`,
        updatedAt: now,
      };
      outcome = 'unfillable';
    } else {
      const timedOut = signal.aborted && !(error instanceof TransientInsertError);
      next = {
        ...filling,
        state: 'failed',
        reason: timedOut ? `attempt timed out after ${options.attemptTimeoutMs} ms: ${why}` : why,
        nextAttemptAt: now + backoffMs(filling.attempts - 1, options.retryBaseMs, options.retryMaxMs),
        updatedAt: now,
      };
      outcome = 'failed';
    }
    await ledger.transition(gap.id, 'filling', next);
    await mirror(deps, next);
    if (outcome !== 'unauthorized') {
      logger.log(outcome === 'unfillable' ? 'ERROR' : 'WARNING', `gap ${next.state}`, gapFields(next));
    }
    return outcome;
  }
}
