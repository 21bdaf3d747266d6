// Settling a local run before it is judged: batches still in flight land first (a batch queued in Pub/Sub
// is not a hole), then the gap-filler runs as Cloud Scheduler would until nothing is open or missing.
// Used by `npm start --duration`, the chaos runs and the end-to-end benchmark.
import { setTimeout as sleep } from 'node:timers/promises';
import { tickSource, type IdRange } from './exchange/ground-truth.ts';
import type { Stack } from './stack.ts';
import { waitUntil, type TradeComparison } from './verify.ts';

/**
 * Waits until nothing is missing, or until every stream's committed live coverage reaches its last
 * trade and the stored count has stopped moving (what is still missing then was lost, not delayed).
 */
export async function waitForDrain(
  stack: Stack,
  expected: Readonly<Record<string, IdRange>>,
  compare: () => Promise<TradeComparison>,
  timeoutMs: number,
): Promise<{ drained: boolean; missing: number; waitedMs: number }> {
  const started = Date.now();
  const coverage = `\`${stack.projectId}.${stack.topology.dataset}.coverage_dedup\``;
  const lastTs = Object.fromEntries(
    Object.entries(expected).map(([symbol, range]) => [
      symbol,
      tickSource('trade', stack.simulator.groundTruth(symbol)).timestampOf(range.lastId - 1),
    ]),
  );
  let previous = -1;
  let stableSince = Date.now();
  let missing = -1;
  const drained = await waitUntil(
    async () => {
      const result = await compare();
      missing = result.missing;
      if (missing === 0) return true;
      if (result.stored !== previous) {
        previous = result.stored;
        stableSince = Date.now();
        return false;
      }
      if (Date.now() - stableSince < 1_500) return false;
      const rows = await stack.warehouse.query<{ symbol: string; t: number }>(
        `SELECT symbol, MAX(UNIX_MILLIS(window_to)) AS t FROM ${coverage} WHERE exchange = 'binance' ` +
          `AND data_type = 'trade' AND source = 'live' GROUP BY symbol`,
      );
      return Object.entries(lastTs).every(([symbol, ts]) =>
        rows.some((r) => r.symbol === symbol && Number(r.t) >= ts),
      );
    },
    timeoutMs,
    500,
  );
  return { drained, missing, waitedMs: Date.now() - started };
}

/** Runs the gap-filler as Cloud Scheduler would until no gap is open and nothing is missing. */
export async function settleGapfill(
  stack: Stack,
  compare: () => Promise<TradeComparison>,
  timeoutMs: number,
): Promise<{ settled: boolean; runs: number; result: TradeComparison }> {
  const deadline = Date.now() + timeoutMs;
  let runs = 0;
  for (;;) {
    runs++;
    await stack.runGapfill();
    const open = await stack.ledger.list({ states: ['open', 'failed', 'filling'] });
    const result = await compare();
    if (open.length === 0 && result.missing === 0) return { settled: true, runs, result };
    if (Date.now() > deadline) return { settled: false, runs, result };
    await sleep(1_000);
  }
}
