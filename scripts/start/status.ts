// The status line `npm start` prints every few seconds while the pipeline runs.
import type { Stack } from '../local/stack.ts';
import type { Say } from './args.ts';

/** Returns a function that prints one status line: relay intake, committed rows, per-stream freshness lag, gaps and backfill. */
export function statusReporter(
  stack: Stack,
  symbols: readonly string[],
  say: Say,
  startedAt: number,
): () => Promise<void> {
  const view = `\`${stack.projectId}.${stack.topology.dataset}.trades_dedup\``;
  let last = { at: Date.now(), rows: 0, ticksIn: 0 };
  return async () => {
    const health = (await fetch(`${stack.relayHealthUrl}/healthz`).then((r) => r.json())) as {
      ready: boolean;
      healthy: boolean;
      reasons: string[];
      counters: { ticksIn: number; ticksPublished: number; disconnects: number };
    };
    // Freshness lag per stream: now - exchange time of the newest committed trade of that symbol.
    const perSymbol = await stack.warehouse.query<{ symbol: string; n: number; lag_ms: number | null }>(
      `SELECT symbol, COUNT(*) AS n, TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), MAX(exchange_ts), MILLISECOND) AS lag_ms
       FROM ${view} GROUP BY symbol`,
    );
    const lagMs: Record<string, number | null> = Object.fromEntries(symbols.map((s) => [s, null]));
    let rows = 0;
    for (const r of perSymbol) {
      rows += Number(r.n);
      lagMs[r.symbol] = r.lag_ms === null ? null : Number(r.lag_ms);
    }
    const gaps = await stack.ledger.list();
    const now = Date.now();
    const per = (n: number, prev: number) => Math.round(((n - prev) * 1000) / Math.max(1, now - last.at));
    say('status', {
      elapsedS: Math.round((now - startedAt) / 1000),
      relay: !health.ready ? 'not ready' : health.healthy ? 'healthy' : 'unhealthy',
      ticksPerS: per(health.counters.ticksIn, last.ticksIn),
      ticksIn: health.counters.ticksIn,
      stored: rows,
      rowsPerS: per(rows, last.rows),
      lagMs,
      disconnects: health.counters.disconnects,
      openGaps: gaps.filter((g) => g.state !== 'filled').length,
      rowsBackfilled: gaps.reduce((n, g) => n + g.rowsBackfilled, 0),
      ...(health.ready && health.healthy ? {} : { why: health.reasons.join('; ') }),
    });
    last = { at: now, rows, ticksIn: health.counters.ticksIn };
  };
}
