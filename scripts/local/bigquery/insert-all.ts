import { invalid } from './errors.ts';
import type { FaultInjector } from './faults.ts';
import { countInsertAll, type IngestionCounters } from './ingestion-bytes.ts';
import type { InsertDedup } from './insert-dedup.ts';
import { checkRow, type RowError } from './row-validate.ts';
import type { Warehouse } from './warehouse.ts';

/** Row counters for GET /_standin/stats. */
export interface RowCounters {
  inserted: number;
  deduplicated: number;
  rejected: number;
}

export interface InsertAllDeps {
  warehouse: Warehouse;
  dedup: InsertDedup;
  faults: FaultInjector;
  rows: RowCounters;
  ingestion: IngestionCounters;
  now: () => number;
}

interface InsertAllRow {
  insertId?: unknown;
  json?: unknown;
}

const STOPPED: RowError = { reason: 'stopped', location: '', debugInfo: '', message: '' };

/**
 * tabledata.insertAll with BigQuery's rules: a row that fails the schema stops the whole request
 * (the others are reported `stopped`) unless skipInvalidRows; rows whose insertId was stored in
 * this table within the dedup window are accepted and not stored again.
 */
export async function insertAll(
  deps: InsertAllDeps,
  datasetId: string,
  tableId: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const rows = request.rows;
  if (!Array.isArray(rows) || rows.length === 0) throw invalid('No rows present in the request.');
  const skipInvalidRows = request.skipInvalidRows === true;
  const ignoreUnknownValues = request.ignoreUnknownValues === true;
  const dedupKey = `${datasetId}.${tableId}`;

  const errors = await deps.warehouse.insertRows(datasetId, tableId, (table) => {
    const found = new Map<number, RowError>();
    const checked: (Record<string, unknown> | undefined)[] = [];
    let stopAll = false;
    rows.forEach((raw: unknown, i) => {
      const row = (typeof raw === 'object' && raw !== null ? raw : {}) as InsertAllRow;
      const check = checkRow(table.schema, row.json, ignoreUnknownValues);
      if (check.ok) checked[i] = check.row;
      else {
        found.set(i, check.error);
        stopAll = true;
      }
    });
    for (const [i, injected] of deps.faults.insertErrorsFor(datasetId, tableId, rows as InsertAllRow[])) {
      if (found.has(i)) continue;
      found.set(i, { reason: injected.reason, location: '', debugInfo: '', message: injected.message });
      if (injected.reason === 'invalid') stopAll = true;
    }
    if (stopAll && !skipInvalidRows) {
      for (let i = 0; i < rows.length; i++) if (!found.has(i)) found.set(i, STOPPED);
      deps.rows.rejected += rows.length;
      return { rows: [], result: found };
    }
    const now = deps.now();
    const toStore: Record<string, unknown>[] = [];
    const storedIds: string[] = [];
    const inRequest = new Set<string>();
    const billed: Record<string, unknown>[] = [];
    rows.forEach((raw: unknown, i) => {
      const value = checked[i];
      if (found.has(i) || value === undefined) return;
      billed.push(value);
      const insertId = (raw as InsertAllRow).insertId;
      if (typeof insertId === 'string' && insertId !== '') {
        if (inRequest.has(insertId) || deps.dedup.seen(dedupKey, insertId, now)) {
          deps.rows.deduplicated += 1;
          return;
        }
        inRequest.add(insertId);
        storedIds.push(insertId);
      }
      toStore.push(value);
    });
    deps.rows.rejected += found.size;
    return {
      rows: toStore,
      onStored: () => {
        deps.dedup.record(dedupKey, storedIds, now);
        deps.rows.inserted += toStore.length;
        countInsertAll(deps.ingestion.insertAll, table.schema, billed);
      },
      result: found,
    };
  });

  const response: Record<string, unknown> = { kind: 'bigquery#tableDataInsertAllResponse' };
  if (errors.size > 0) {
    response.insertErrors = [...errors.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, error]) => ({ index, errors: [error] }));
  }
  return response;
}
