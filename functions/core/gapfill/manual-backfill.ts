import type { StreamKey } from '../model/streams.ts';
import type { GapfillDeps } from './deps.ts';
import { fillOne } from './fill.ts';
import { newGap, type Gap } from './gaps.ts';

/**
 * Backfills one window of one stream by hand (the ops CLI): records it as a `manual` gap, or reuses the
 * ledger's gap for exactly that window, and fills it now, ignoring backoff. Returns the gap as it ends.
 */
export async function backfillWindow(
  deps: GapfillDeps,
  stream: StreamKey,
  from: number,
  to: number,
): Promise<Gap> {
  const gap = newGap(stream, from, to, 'manual', deps.clock.now());
  await deps.ledger.record(gap);
  const current = (await deps.ledger.get(gap.id)) ?? gap;
  if (current.state === 'filled') {
    // A second manual run re-fetches: dedup makes it harmless, and the operator asked for it.
    await deps.ledger.transition(gap.id, 'filled', {
      ...current,
      state: 'open',
      updatedAt: deps.clock.now(),
    });
  } else if (current.state === 'filling') {
    throw new Error(`gap ${gap.id} is being filled by a run right now`);
  } else if (current.state === 'unfillable') {
    await deps.ledger.transition(gap.id, 'unfillable', {
      ...current,
      state: 'open',
      attempts: 0,
      updatedAt: deps.clock.now(),
    });
  }
  const latest = (await deps.ledger.get(gap.id))!;
  await fillOne(deps, latest);
  return (await deps.ledger.get(gap.id))!;
}
