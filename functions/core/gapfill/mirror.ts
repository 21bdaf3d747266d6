import type { WarehouseRow } from '../ports.ts';
import { insertDurably } from '../shared/durable-insert.ts';
import type { GapfillDeps } from './deps.ts';
import type { Gap } from './gaps.ts';
import { insertOptions, warehouseSink } from './insert.ts';
import { iso } from './log-fields.ts';

/** Mirrors a gap's state into the warehouse `gaps` table; best effort, the ledger is the truth. */
export async function mirror(deps: GapfillDeps, gap: Gap): Promise<void> {
  const { warehouse, clock, logger } = deps;
  const row: WarehouseRow = {
    insertId: `${gap.id}:${gap.state}:${gap.attempts}`,
    json: {
      gap_id: gap.id,
      exchange: gap.stream.exchange,
      symbol: gap.stream.symbol,
      data_type: gap.stream.type,
      gap_from: new Date(gap.from).toISOString(),
      gap_to: new Date(gap.to).toISOString(),
      detected_by: gap.detectedBy,
      state: gap.state,
      attempts: gap.attempts,
      rows_backfilled: gap.rowsBackfilled,
      reason: gap.reason,
      updated_at: new Date(Math.max(gap.updatedAt, clock.now())).toISOString(),
      fillable_at: iso(gap.fillableAt),
      filled_at: iso(gap.filledAt),
    },
  };
  try {
    const refused = await insertDurably(
      warehouseSink(warehouse),
      'gaps',
      [row],
      undefined,
      insertOptions(deps, 3, 100),
    );
    if (refused.length > 0)
      logger.log('ERROR', 'gaps table refused a ledger row', { gapId: gap.id, why: refused[0]?.why });
  } catch (error) {
    logger.log('WARNING', 'gap mirror to the warehouse failed; the ledger holds the state', {
      gapId: gap.id,
      error,
    });
  }
}
