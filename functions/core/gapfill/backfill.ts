import type { WarehouseRow } from '../ports.ts';
import { insertDurably, TransientInsertError } from '../shared/durable-insert.ts';
import { rowId } from '../model/row-id.ts';
import { quarantineRow } from '../contract/quarantine-row.ts';
import { coverageRowFor, tickToRow } from '../contract/rows.ts';
import { TABLE_FOR_TYPE } from '../contract/schema.ts';
import { invalidReason } from '../model/validate.ts';
import type { GapfillDeps } from './deps.ts';
import type { Gap } from './gaps.ts';
import { insertOptions, warehouseSink } from './insert.ts';

/** Fetches the gap's history and writes it; returns the number of valid rows written. */
export async function backfill(deps: GapfillDeps, gap: Gap, signal: AbortSignal): Promise<number> {
  const { warehouse, clock, options } = deps;
  const table = TABLE_FOR_TYPE[gap.stream.type];
  const batchId = `gapfill/${gap.id}`;
  const insert = insertOptions(deps, options.insertAttempts);
  const from = gap.from - options.marginMs;
  const to = gap.to + options.marginMs;
  const sink = warehouseSink(warehouse);
  let pending: WarehouseRow[] = [];
  const quarantined: WarehouseRow[] = [];
  let written = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const refused = await insertDurably(sink, table, pending, undefined, insert);
    written += pending.length - refused.length;
    for (const { index, why } of refused) {
      const json = pending[index]!.json;
      quarantined.push(quarantineEntry(batchId, gap, 'rejected_by_warehouse', why, json, clock.now()));
    }
    pending = [];
  };
  for await (const tick of deps.history.ticks(gap.stream, from, to, signal)) {
    if (signal.aborted) throw new Error('fill attempt aborted');
    const id = rowId(tick);
    const why = invalidReason(tick, clock.now());
    if (why) {
      quarantined.push(quarantineEntry(batchId, gap, 'invalid_tick', why, tick, clock.now()));
      continue;
    }
    pending.push({
      insertId: id,
      json: tickToRow(tick, id, { ingestedAt: clock.now(), source: 'backfill', relayId: null, batchId }),
    });
    if (pending.length >= 500) await flush();
  }
  if (signal.aborted) throw new Error('fill attempt aborted');
  await flush();
  if (quarantined.length > 0) {
    const refused = await insertDurably(sink, 'quarantine', quarantined, undefined, insert);
    if (refused.length > 0) throw new TransientInsertError(`quarantine refused ${refused.length} rows`);
  }
  // Coverage last: the gap counts as recorded only once its rows are durable.
  const coverage = coverageRowFor(
    gap.stream,
    { from: gap.from, to: gap.to },
    batchId,
    written,
    'backfill',
    null,
    clock.now(),
  );
  const refused = await insertDurably(
    sink,
    'coverage',
    [{ insertId: batchId, json: coverage }],
    undefined,
    insert,
  );
  if (refused.length > 0) throw new TransientInsertError(`coverage row refused: ${refused[0]?.why}`);
  return written;
}

/** A quarantine row for input of the gap's backfill that cannot be stored as a tick. */
function quarantineEntry(
  batchId: string,
  gap: Gap,
  reason: string,
  detail: string,
  payload: unknown,
  now: number,
): WarehouseRow {
  const text = JSON.stringify(payload);
  return quarantineRow({
    id: `${batchId}#${reason}#${text.length}#${text.slice(0, 64)}`,
    reason,
    detail,
    messageId: null,
    batchId,
    exchange: gap.stream.exchange,
    symbol: gap.stream.symbol,
    dataType: gap.stream.type,
    payload: text,
    receivedAt: now,
  });
}
