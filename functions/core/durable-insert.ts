import type { Warehouse, WarehouseRow } from './ports.ts';
import { backoffMs, sleep } from './retry.ts';
import type { TableName } from './schema.ts';

/** The rows could not be made durable now; the caller must retry later (the writer answers 503). */
export class TransientInsertError extends Error {
  override readonly name = 'TransientInsertError';
}

export interface DurableInsertOptions {
  readonly attempts: number;
  readonly retryBaseMs: number;
  /** Called once per retry round, for counters. */
  readonly onRetry?: () => void;
}

/**
 * Inserts rows until each one is stored or permanently refused: whole-request failures and retryable
 * row failures are retried (only the failed rows), up to `attempts`. Returns the refused rows with why;
 * throws TransientInsertError when rows are still failing transiently after the last attempt.
 */
export async function insertDurably(
  warehouse: Warehouse,
  table: TableName,
  rows: readonly WarehouseRow[],
  options: DurableInsertOptions,
): Promise<{ row: WarehouseRow; why: string }[]> {
  const refused: { row: WarehouseRow; why: string }[] = [];
  let todo = rows;
  for (let attempt = 0; todo.length > 0; attempt++) {
    if (attempt > 0) {
      options.onRetry?.();
      await sleep(backoffMs(attempt - 1, options.retryBaseMs, 2000));
    }
    let failures;
    try {
      failures = await warehouse.insert(table, todo);
    } catch (error) {
      if (attempt + 1 >= options.attempts) {
        const why = error instanceof Error ? error.message : String(error);
        throw new TransientInsertError(`insert into ${table} failed: ${why}`, { cause: error });
      }
      continue;
    }
    const retry: WarehouseRow[] = [];
    for (const failure of failures) {
      const row = todo[failure.index];
      if (!row) continue;
      if (failure.retryable) retry.push(row);
      else refused.push({ row, why: `${failure.reason}: ${failure.message}` });
    }
    if (retry.length > 0 && attempt + 1 >= options.attempts) {
      throw new TransientInsertError(
        `${retry.length} rows into ${table} still failing after ${attempt + 1} attempts`,
      );
    }
    todo = retry;
  }
  return refused;
}
