// How `npm start --duration` ends: freeze the ground truth, let the pipeline settle, compare, summarize.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stack } from '../local/stack.ts';
import { settleGapfill, waitForDrain } from '../local/settle.ts';
import { compareTrades, waitUntil } from '../local/verify.ts';

/** The gap-filler's settle time in this stack (it judges only time older than this). */
export const SETTLE_MS = 3000;

export interface FinishContext {
  readonly stack: Stack;
  readonly symbols: readonly string[];
  readonly json: boolean;
  readonly say: (text: string, data: Record<string, unknown>) => void;
  readonly startedAt: number;
  readonly workDir: string;
}

/** Against the simulator: returns the exit code (0 only when nothing is missing or duplicated). */
export async function finishSimulated(ctx: FinishContext): Promise<number> {
  const { stack, symbols, say } = ctx;
  // No gap-filler run from here on: the frozen exchange below would look like an outage to backfill.
  await stack.scheduler?.stop();
  // Freeze the ground truth (sockets stay open, no new frames), let the pipeline settle, then drain the relay.
  stack.simulator.stall(3_600_000, 'drop');
  await sleep(500); // frames whose write completes just after the stall still count as sent
  // With the gap-filler in the pipeline the truth is every trade the exchange published between the first
  // and the last one sent: trades published while the relay was disconnected come back from history.
  const expected = Object.fromEntries(
    symbols.map((s) => {
      const sent = stack.simulator.sentTrades(s);
      return [
        s,
        sent.length === 0 ? [] : [{ firstId: sent[0]!.firstId, lastId: sent[sent.length - 1]!.lastId }],
      ];
    }),
  );
  const compare = () =>
    compareTrades(stack.warehouse, stack.projectId, stack.topology.dataset, 'binance', expected);
  // Batches still queued in Pub/Sub land first; then the gap-filler runs, as its Scheduler job would,
  // until nothing is open or missing (the frozen exchange leaves a last hole that history fills).
  const ranges = Object.fromEntries(
    Object.entries(expected).flatMap(([s, r]) => (r.length === 0 ? [] : [[s, r[0]!]])),
  );
  const drained = await waitForDrain(stack, ranges, compare, 120_000);
  say('in-flight batches landed', drained);
  await sleep(SETTLE_MS + 500);
  const settled = await settleGapfill(stack, compare, 120_000);
  say('gap-filler settled', { settled: settled.settled, runs: settled.runs });
  const relayExit = await stack.relay.terminate();
  const result = await compare();
  const gaps = await stack.ledger.list();
  await stack.stop();
  const summary = {
    sent: result.sent,
    stored: result.stored,
    missing: result.missing,
    duplicates: result.duplicates,
    raw_duplicates: result.rawDuplicates,
    unexpected_live: result.unexpectedLive,
    backfilled_after_freeze: result.unexpected - result.unexpectedLive,
    gaps: gaps.length,
    gaps_open: gaps.filter((g) => g.state !== 'filled').length,
    rows_backfilled: gaps.reduce((n, g) => n + g.rowsBackfilled, 0),
    gapfill_settled: settled.settled,
    relay_exit: relayExit,
    duration_s: Math.round((Date.now() - ctx.startedAt) / 1000),
    warehouse: join(ctx.workDir, 'warehouse.duckdb'),
  };
  if (!ctx.json) say('summary', { perSymbol: result.perSymbol });
  console.log(JSON.stringify(summary));
  return result.missing === 0 && result.duplicates === 0 && result.unexpectedLive === 0 ? 0 : 1;
}

/**
 * Live there is no ground truth: drain the relay, wait until the committed count stops moving, and report
 * what was stored per symbol, duplicates in the view, and the gap ledger. Nothing stored is a failure.
 */
export async function finishLive(ctx: FinishContext): Promise<number> {
  const { stack } = ctx;
  const view = `\`${stack.projectId}.${stack.topology.dataset}.trades_dedup\``;
  await stack.scheduler?.stop();
  const relayExit = await stack.relay.terminate();
  const counts = async () =>
    stack.warehouse.query<{ symbol: string; n: number; ids: number }>(
      `SELECT symbol, COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids FROM ${view} GROUP BY symbol`,
    );
  let previous = -1;
  await waitUntil(
    async () => {
      const total = (await counts()).reduce((n, r) => n + Number(r.n), 0);
      const stable = total === previous;
      previous = total;
      return stable;
    },
    30_000,
    2_000,
  );
  const rows = await counts();
  const gaps = await stack.ledger.list();
  await stack.stop();
  const stored = rows.reduce((n, r) => n + Number(r.n), 0);
  const duplicates = rows.reduce((n, r) => n + Number(r.n) - Number(r.ids), 0);
  const summary = {
    live: true,
    stored,
    perSymbol: Object.fromEntries(rows.map((r) => [r.symbol, Number(r.n)])),
    duplicates,
    gaps: gaps.length,
    gaps_open: gaps.filter((g) => g.state !== 'filled').length,
    rows_backfilled: gaps.reduce((n, g) => n + g.rowsBackfilled, 0),
    relay_exit: relayExit,
    duration_s: Math.round((Date.now() - ctx.startedAt) / 1000),
    warehouse: join(ctx.workDir, 'warehouse.duckdb'),
  };
  if (stored === 0) {
    console.error('no trade reached the warehouse: is the exchange reachable from here? (see relay.log)');
  }
  console.log(JSON.stringify(summary));
  return stored > 0 && duplicates === 0 ? 0 : 1;
}
