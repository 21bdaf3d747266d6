import type { Warehouse } from '../ports.ts';
import type { DurableInsertOptions, InsertSink } from '../shared/durable-insert.ts';
import type { GapfillDeps } from './deps.ts';

/**
 * The shared insert loop's settings here: no deadline of its own, since every request is bounded by
 * the warehouse adapter's enforced timeout (GAPFILL_INSERT_TIMEOUT_MS) and the attempts are few.
 */
export function insertOptions(
  { clock }: GapfillDeps,
  attempts: number,
  retryBaseMs = 200,
): DurableInsertOptions {
  return {
    attempts,
    retryBaseMs,
    retryMaxMs: 2000,
    maxRowsPerRequest: 500,
    maxBytesPerRequest: 5 * 1024 * 1024,
    deadline: Infinity,
    requestTimeoutMs: 0,
    clock,
  };
}

/** The Warehouse as the insert loop's sink (the gap-filler needs no group commit). */
export function warehouseSink(warehouse: Warehouse): InsertSink {
  return { insert: (table, rows) => warehouse.insert(table, rows) };
}
