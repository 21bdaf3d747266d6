// What a chaos run measures once the gap-filler has settled: recovery time per fault, the longest span
// not recorded live (from the gap ledger and from the trade ids), backfilled rows and poison handling.
// All from the warehouse and the ledger after the fact, so measuring never disturbs the run.
import { mergeIntervals, type Interval } from '../../functions/core/shared/intervals.ts';
import { tickSource, type IdRange } from '../local/exchange/ground-truth.ts';
import type { Stack } from '../local/stack.ts';
import type { FaultRecord } from './faults.ts';

const EXCHANGE = 'binance';

function table(stack: Stack, name: string): string {
  return `\`${stack.projectId}.${stack.topology.dataset}.${name}\``;
}

export interface FaultOutcome extends FaultRecord {
  /**
   * Recovery time: from the fault's end to the earliest `ingested_at` of a live row (raw table,
   * source = 'live') whose exchange_ts is at or after the fault's end, taken over the affected streams
   * (every stream: all faults here hit the whole exchange or the whole pipeline) as the slowest stream.
   * null when some stream never recovered.
   */
  readonly rtoMs: number | null;
}

export async function recoveryTimes(
  stack: Stack,
  symbols: readonly string[],
  faults: readonly FaultRecord[],
): Promise<FaultOutcome[]> {
  const out: FaultOutcome[] = [];
  for (const fault of faults) {
    const rows = await stack.warehouse.query<{ symbol: string; t: number }>(
      `SELECT symbol, MIN(UNIX_MILLIS(ingested_at)) AS t FROM ${table(stack, 'trades')} ` +
        `WHERE exchange = @exchange AND source = 'live' AND exchange_ts >= @end GROUP BY symbol`,
      { exchange: EXCHANGE, end: new Date(fault.end) },
    );
    const first = new Map(rows.map((r) => [r.symbol, Number(r.t)]));
    let worst: number | null = 0;
    for (const symbol of symbols) {
      const t = first.get(symbol);
      if (t === undefined) worst = null;
      else if (worst !== null) worst = Math.max(worst, t - fault.end);
    }
    out.push({ ...fault, rtoMs: worst });
  }
  return out;
}

/**
 * The longest coverage hole the gap ledger recorded for any stream (gaps of one stream merged, since a
 * hole can be recorded in pieces), clipped to the run: from `runFrom` to the exchange time of the
 * symbol's last trade sent. (Once the ground truth is frozen no message arrives, so the relay's coverage
 * stops at its last message and the time after it becomes a hole too; that hole is not the run's.)
 * This is the run's recovery point objective as the pipeline itself saw it.
 */
export async function ledgerRpo(
  stack: Stack,
  runFrom: number,
  expected: Readonly<Record<string, IdRange>>,
): Promise<{ rpoMs: number; gaps: number }> {
  const gaps = await stack.ledger.list();
  const byStream = new Map<string, Interval[]>();
  for (const gap of gaps) {
    const range = expected[gap.stream.symbol];
    if (range === undefined) continue;
    const lastTs = tickSource('trade', stack.simulator.groundTruth(gap.stream.symbol)).timestampOf(
      range.lastId - 1,
    );
    const from = Math.max(gap.from, runFrom);
    const to = Math.min(gap.to, lastTs);
    if (to <= from) continue;
    const key = `${gap.stream.exchange}:${gap.stream.symbol}:${gap.stream.type}`;
    byStream.set(key, [...(byStream.get(key) ?? []), { from, to }]);
  }
  let rpoMs = 0;
  let count = 0;
  for (const intervals of byStream.values()) {
    for (const merged of mergeIntervals(intervals)) {
      rpoMs = Math.max(rpoMs, merged.to - merged.from);
      count++;
    }
  }
  return { rpoMs, gaps: count };
}

/**
 * The longest run of expected trades that no live row holds, as the exchange-time span from the first
 * to the last missing trade (ground truth timestamps); 0 when live ingestion missed nothing.
 */
export async function liveMissingSpan(
  stack: Stack,
  expected: Readonly<Record<string, IdRange>>,
): Promise<{ spanMs: number; missingLive: number }> {
  let spanMs = 0;
  let missingLive = 0;
  for (const [symbol, range] of Object.entries(expected)) {
    const source = tickSource('trade', stack.simulator.groundTruth(symbol));
    const ts = (id: number) => source.timestampOf(id - 1);
    const runs = await stack.warehouse.query<{ p: number | null; q: number }>(
      `SELECT p, q FROM (SELECT id AS q, LAG(id) OVER (ORDER BY id) AS p FROM (` +
        `SELECT DISTINCT CAST(trade_id AS INT64) AS id FROM ${table(stack, 'trades')} ` +
        `WHERE exchange = @exchange AND symbol = @symbol AND source = 'live' ` +
        `AND CAST(trade_id AS INT64) BETWEEN @first AND @last)) WHERE p IS NULL OR q - p > 1`,
      { exchange: EXCHANGE, symbol, first: range.firstId, last: range.lastId },
    );
    const [bounds] = await stack.warehouse.query<{ hi: number | null }>(
      `SELECT MAX(CAST(trade_id AS INT64)) AS hi FROM ${table(stack, 'trades')} ` +
        `WHERE exchange = @exchange AND symbol = @symbol AND source = 'live' ` +
        `AND CAST(trade_id AS INT64) BETWEEN @first AND @last`,
      { exchange: EXCHANGE, symbol, first: range.firstId, last: range.lastId },
    );
    const missing: IdRange[] = [];
    for (const run of runs) {
      const q = Number(run.q);
      if (run.p === null) {
        if (q > range.firstId) missing.push({ firstId: range.firstId, lastId: q - 1 });
      } else missing.push({ firstId: Number(run.p) + 1, lastId: q - 1 });
    }
    const hi = bounds?.hi === null || bounds?.hi === undefined ? undefined : Number(bounds.hi);
    if (hi === undefined) missing.push({ firstId: range.firstId, lastId: range.lastId });
    else if (hi < range.lastId) missing.push({ firstId: hi + 1, lastId: range.lastId });
    for (const m of missing) {
      missingLive += m.lastId - m.firstId + 1;
      spanMs = Math.max(spanMs, ts(m.lastId) - ts(m.firstId));
    }
  }
  return { spanMs, missingLive };
}

/** Backfilled rows the dedup view serves within the run's id ranges, and live rows outside them. */
export async function viewSources(
  stack: Stack,
  expected: Readonly<Record<string, IdRange>>,
): Promise<{ backfilled: number; liveOutsideRange: number }> {
  let backfilled = 0;
  let liveOutsideRange = 0;
  for (const [symbol, range] of Object.entries(expected)) {
    const [row] = await stack.warehouse.query<{ b: number; o: number }>(
      `SELECT COUNTIF(source = 'backfill' AND CAST(trade_id AS INT64) BETWEEN @first AND @last) AS b, ` +
        `COUNTIF(source = 'live' AND CAST(trade_id AS INT64) NOT BETWEEN @first AND @last) AS o ` +
        `FROM ${table(stack, 'trades_dedup')} WHERE exchange = @exchange AND symbol = @symbol`,
      { exchange: EXCHANGE, symbol, first: range.firstId, last: range.lastId },
    );
    backfilled += Number(row?.b ?? 0);
    liveOutsideRange += Number(row?.o ?? 0);
  }
  return { backfilled, liveOutsideRange };
}

/** How many of the published poison messages the quarantine holds, and tick rows they left (must be 0). */
export async function poisonOutcome(
  stack: Stack,
  messageIds: readonly string[],
): Promise<{ published: number; quarantined: number; tickRows: number }> {
  if (messageIds.length === 0) return { published: 0, quarantined: 0, tickRows: 0 };
  const rows = await stack.warehouse.query<{ message_id: string }>(
    `SELECT DISTINCT message_id FROM ${table(stack, 'quarantine')} WHERE message_id IS NOT NULL`,
  );
  const seen = new Set(rows.map((r) => String(r.message_id)));
  const [ticks] = await stack.warehouse.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM ${table(stack, 'trades')} WHERE relay_id = 'chaos-poison'`,
  );
  return {
    published: messageIds.length,
    quarantined: messageIds.filter((id) => seen.has(id)).length,
    tickRows: Number(ticks?.n ?? 0),
  };
}
