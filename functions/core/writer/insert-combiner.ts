import type { RowFailure, Warehouse, WarehouseRow } from '../ports.ts';
import type { TableName } from '../contract/schema.ts';

export interface CombinerOptions {
  /** Insert requests in flight per table; calls beyond it wait and are merged into one request. */
  readonly maxInFlight: number | ((table: TableName) => number);
  /** Upper bounds of one merged request (a single call larger than these is sent alone, as it is). */
  readonly maxRows: number;
  readonly maxBytes: number;
}

/** What one insert request did, for metrics. */
export interface InsertRequestReport {
  readonly table: TableName;
  readonly rows: number;
  /** Calls merged into the request. */
  readonly calls: number;
  readonly ms: number;
  readonly ok: boolean;
}

interface Call {
  readonly rows: readonly WarehouseRow[];
  readonly bytes: number;
  readonly resolve: (failures: RowFailure[]) => void;
  readonly reject: (error: unknown) => void;
}

interface TableQueue {
  readonly waiting: Call[];
  inFlight: number;
}

/**
 * Group commit for streaming inserts. Concurrent deliveries in one instance each want a few small
 * inserts (their rows, their coverage row, quarantine rows); while `maxInFlight` requests to a table are
 * already running, further calls queue and leave together as one request. Under light load every call
 * goes out at once, alone; under load the request count stops growing with the delivery count.
 * Each caller gets back exactly the failures of its own rows, re-indexed to its own array.
 */
export class InsertCombiner {
  private readonly tables = new Map<TableName, TableQueue>();

  constructor(
    private readonly warehouse: Warehouse,
    private readonly options: CombinerOptions,
    private readonly report: (r: InsertRequestReport) => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Inserts `rows` (about `bytes` of JSON), possibly together with other callers' rows. */
  insert(table: TableName, rows: readonly WarehouseRow[], bytes: number): Promise<RowFailure[]> {
    if (rows.length === 0) return Promise.resolve([]);
    let queue = this.tables.get(table);
    if (!queue) {
      queue = { waiting: [], inFlight: 0 };
      this.tables.set(table, queue);
    }
    const result = new Promise<RowFailure[]>((resolve, reject) => {
      queue.waiting.push({ rows, bytes, resolve, reject });
    });
    this.pump(table, queue);
    return result;
  }

  private pump(table: TableName, queue: TableQueue): void {
    const { maxInFlight } = this.options;
    const limit = typeof maxInFlight === 'number' ? maxInFlight : maxInFlight(table);
    while (queue.inFlight < limit && queue.waiting.length > 0) {
      const calls: Call[] = [queue.waiting.shift()!];
      let rows = calls[0]!.rows.length;
      let bytes = calls[0]!.bytes;
      while (queue.waiting.length > 0) {
        const next = queue.waiting[0]!;
        if (rows + next.rows.length > this.options.maxRows || bytes + next.bytes > this.options.maxBytes)
          break;
        calls.push(queue.waiting.shift()!);
        rows += next.rows.length;
        bytes += next.bytes;
      }
      queue.inFlight++;
      void this.send(table, calls, rows).finally(() => {
        queue.inFlight--;
        this.pump(table, queue);
      });
    }
  }

  private async send(table: TableName, calls: readonly Call[], rowCount: number): Promise<void> {
    const rows = calls.length === 1 ? calls[0]!.rows : calls.flatMap((c) => c.rows);
    const started = this.now();
    let failures: RowFailure[];
    try {
      failures = await this.warehouse.insert(table, rows);
    } catch (error) {
      this.report({ table, rows: rowCount, calls: calls.length, ms: this.now() - started, ok: false });
      for (const call of calls) call.reject(error);
      return;
    }
    this.report({ table, rows: rowCount, calls: calls.length, ms: this.now() - started, ok: true });
    if (calls.length === 1) {
      calls[0]!.resolve(failures);
      return;
    }
    const perCall: RowFailure[][] = calls.map(() => []);
    const ends: number[] = [];
    let end = 0;
    for (const call of calls) ends.push((end += call.rows.length));
    for (const failure of failures) {
      let k = 0;
      while (k < ends.length && failure.index >= ends[k]!) k++;
      if (k >= ends.length) continue;
      const start = k === 0 ? 0 : ends[k - 1]!;
      perCall[k]!.push({ ...failure, index: failure.index - start });
    }
    calls.forEach((call, k) => call.resolve(perCall[k]!));
  }
}
