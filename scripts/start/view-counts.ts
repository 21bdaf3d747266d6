// What the dedup views hold per exchange and data type of a run's mix: read by the status line and by
// the live summary (which has no ground truth to compare with).
import { TABLE_FOR_TYPE, dedupViewName } from '../../functions/core/contract/schema.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type { Stack } from '../local/stack.ts';

export interface ViewCounts {
  readonly exchange: string;
  readonly type: DataType;
  /** Rows in the dedup view. */
  stored: number;
  /** Rows beyond one per row id (must be 0). */
  duplicates: number;
  /** now - exchange time of the newest row of the slowest symbol; null before the first row. */
  lagMs: number | null;
}

/** One query per data type's dedup view; an entry for every exchange and type of the mix, in its order. */
export async function viewCounts(stack: Stack): Promise<ViewCounts[]> {
  const out = new Map<string, ViewCounts>();
  for (const m of stack.streams) {
    for (const type of m.types) {
      out.set(`${m.exchange}:${type}`, { exchange: m.exchange, type, stored: 0, duplicates: 0, lagMs: null });
    }
  }
  for (const type of new Set(stack.streams.flatMap((m) => m.types))) {
    const view = `\`${stack.projectId}.${stack.topology.dataset}.${dedupViewName(TABLE_FOR_TYPE[type])}\``;
    const rows = await stack.warehouse.query<{
      exchange: string;
      n: number;
      ids: number;
      lag_ms: number | null;
    }>(
      `SELECT exchange, COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids, ` +
        `TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), MAX(exchange_ts), MILLISECOND) AS lag_ms ` +
        `FROM ${view} GROUP BY exchange, symbol`,
    );
    for (const r of rows) {
      const entry = out.get(`${r.exchange}:${type}`);
      if (entry === undefined) continue;
      entry.stored += Number(r.n);
      entry.duplicates += Number(r.n) - Number(r.ids);
      const lag = r.lag_ms === null ? null : Number(r.lag_ms);
      if (lag !== null) entry.lagMs = Math.max(entry.lagMs ?? lag, lag);
    }
  }
  return [...out.values()];
}
