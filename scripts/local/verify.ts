// Compares what the warehouse holds with the exchange simulator's ground truth.
import type { Warehouse } from '../../functions/core/ports.ts';
import type { IdRange } from './exchange/ground-truth.ts';
import { groundTruthTradeIdSql } from './exchange/protocols.ts';

export interface TradeComparison {
  /** Trades the ground truth expects (per symbol, the given id ranges). */
  readonly sent: number;
  /** Distinct expected trades present in the dedup view. */
  readonly stored: number;
  readonly missing: number;
  /** Rows in the dedup view beyond one per trade id (must be 0). */
  readonly duplicates: number;
  /** Extra copies in the raw table (redeliveries that insertId dedup did not catch). */
  readonly rawDuplicates: number;
  /**
   * Rows in the dedup view outside the expected ranges. Backfilled ones are expected once the gap-filler
   * has run after the ground truth was frozen (the frozen exchange is a hole that history fills).
   */
  readonly unexpected: number;
  /** Live rows in the dedup view outside the expected ranges: the relay invented them (must be 0). */
  readonly unexpectedLive: number;
  readonly perSymbol: Readonly<Record<string, { sent: number; stored: number; missing: number }>>;
}

function rangeCount(ranges: readonly IdRange[]): number {
  return ranges.reduce((n, r) => n + Math.max(0, r.lastId - r.firstId + 1), 0);
}

/**
 * Counts, per symbol, how many of the expected trade ids the dedup view holds, and every kind of excess.
 * Aggregates run in SQL so the comparison stays cheap for long runs.
 */
export async function compareTrades(
  warehouse: Warehouse,
  projectId: string,
  dataset: string,
  exchange: string,
  expected: Readonly<Record<string, readonly IdRange[]>>,
): Promise<TradeComparison> {
  const perSymbol: Record<string, { sent: number; stored: number; missing: number }> = {};
  let sent = 0;
  let stored = 0;
  let unexpected = 0;
  let unexpectedLive = 0;
  const view = `\`${projectId}.${dataset}.trades_dedup\``;
  const raw = `\`${projectId}.${dataset}.trades\``;
  const tradeId = groundTruthTradeIdSql(exchange);
  for (const [symbol, ranges] of Object.entries(expected)) {
    const want = rangeCount(ranges);
    // One statement per symbol, so rows the writer commits meanwhile cannot fall between two counts.
    const valid = ranges.filter((r) => r.lastId >= r.firstId);
    const inRange = valid.map((_, i) => `${tradeId} BETWEEN @f${i} AND @l${i}`).join(' OR ') || 'FALSE';
    const [row] = await warehouse.query<{ total: number; have: number; live_out: number }>(
      `SELECT COUNT(*) AS total, COUNT(DISTINCT CASE WHEN ${inRange} THEN trade_id END) AS have, ` +
        `SUM(CASE WHEN source = 'live' AND NOT (${inRange}) THEN 1 ELSE 0 END) AS live_out ` +
        `FROM ${view} WHERE exchange = @exchange AND symbol = @symbol`,
      {
        exchange,
        symbol,
        ...Object.fromEntries(
          valid.flatMap((r, i) => [
            [`f${i}`, r.firstId],
            [`l${i}`, r.lastId],
          ]),
        ),
      },
    );
    const have = Number(row?.have ?? 0);
    unexpected += Number(row?.total ?? 0) - have;
    unexpectedLive += Number(row?.live_out ?? 0);
    perSymbol[symbol] = { sent: want, stored: have, missing: want - have };
    sent += want;
    stored += have;
  }
  const [dup] = await warehouse.query<{ n: number }>(
    `SELECT COUNT(*) - COUNT(DISTINCT row_id) AS n FROM ${view} WHERE exchange = @exchange`,
    { exchange },
  );
  const [rawDup] = await warehouse.query<{ n: number }>(
    `SELECT COUNT(*) - COUNT(DISTINCT row_id) AS n FROM ${raw} WHERE exchange = @exchange`,
    { exchange },
  );
  return {
    sent,
    stored,
    missing: sent - stored,
    duplicates: Number(dup?.n ?? 0),
    rawDuplicates: Number(rawDup?.n ?? 0),
    unexpected,
    unexpectedLive,
    perSymbol,
  };
}

/** Polls `probe` until it returns true or `timeoutMs` passes; returns whether it settled. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
