import type { RowFailure, Warehouse, WarehouseRow } from '../../../functions/core/ports.ts';
import type { TableName } from '../../../functions/core/contract/schema.ts';

/** A Warehouse port fake for core unit tests: rows kept per table, failures scripted per call. */
export class MemoryWarehouse implements Warehouse {
  readonly tables = new Map<TableName, WarehouseRow[]>();
  readonly calls: { table: TableName; rows: number }[] = [];
  /** Each scripted entry answers one insert call: throw, or fail the rows the predicate picks. */
  readonly script: (
    | { kind: 'throw'; error: Error }
    | { kind: 'fail'; pick: (row: WarehouseRow) => { reason: string; retryable: boolean } | undefined }
  )[] = [];

  async insert(table: TableName, rows: readonly WarehouseRow[]): Promise<RowFailure[]> {
    this.calls.push({ table, rows: rows.length });
    const step = this.script.shift();
    if (step?.kind === 'throw') throw step.error;
    const failures: RowFailure[] = [];
    const stored = this.tables.get(table) ?? [];
    rows.forEach((row, index) => {
      const failure = step?.kind === 'fail' ? step.pick(row) : undefined;
      if (failure)
        failures.push({ index, reason: failure.reason, message: 'scripted', retryable: failure.retryable });
      else stored.push(row);
    });
    this.tables.set(table, stored);
    return failures;
  }

  async query<T>(): Promise<T[]> {
    throw new Error('MemoryWarehouse does not run SQL');
  }

  rows(table: TableName): WarehouseRow[] {
    return this.tables.get(table) ?? [];
  }

  uniqueIds(table: TableName): Set<string> {
    return new Set(this.rows(table).map((r) => r.insertId));
  }
}
