// How `npm start --duration` ends: freeze the ground truth, let the pipeline settle, compare every
// exchange and data type with it, summarize.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stack } from '../local/stack.ts';
import { settleGapfill, waitForDrain } from '../local/settle.ts';
import { compareMix, sentSoFar } from '../local/verify-mix.ts';
import { waitUntil } from '../local/verify.ts';
import { viewCounts } from './view-counts.ts';

/** The gap-filler's settle time in this stack (it judges only time older than this). */
export const SETTLE_MS = 3000;

export interface FinishContext {
  readonly stack: Stack;
  readonly json: boolean;
  readonly say: (text: string, data: Record<string, unknown>) => void;
  readonly startedAt: number;
  readonly workDir: string;
}

/** Against the simulator: returns the exit code (0 only when nothing is missing or duplicated). */
export async function finishSimulated(ctx: FinishContext): Promise<number> {
  const { stack, say } = ctx;
  // No gap-filler run from here on: the frozen exchange below would look like an outage to backfill.
  await stack.scheduler?.stop();
  // Freeze the ground truth (sockets stay open, no new frames), let the pipeline settle, then drain the relay.
  stack.simulator.stall(3_600_000, 'drop');
  await sleep(500); // frames whose write completes just after the stall still count as sent
  // With the gap-filler in the pipeline the truth is every tick the exchange published between the first
  // and the last one sent: ticks published while the relay was disconnected come back from history.
  const expected = sentSoFar(stack);
  const compare = () => compareMix(stack, expected);
  // Batches still queued in Pub/Sub land first; then the gap-filler runs, as its Scheduler job would,
  // until nothing is open or missing (the frozen exchange leaves a last hole that history fills).
  const drained = await waitForDrain(stack, compare, 120_000);
  say('in-flight batches landed', drained);
  await sleep(SETTLE_MS + 500);
  const settled = await settleGapfill(stack, compare, 120_000);
  say('gap-filler settled', { settled: settled.settled, runs: settled.runs });
  const relayExit = await terminateRelays(stack);
  const result = await compare();
  const gaps = await stack.ledger.list();
  await stack.stop();
  const summary = {
    sent: result.sent,
    stored: result.stored,
    missing: result.missing,
    duplicates: result.duplicates,
    per_stream_type: result.perStreamType,
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
  if (!ctx.json) {
    for (const c of result.perStreamType) say('verified', { ...c });
  }
  console.log(JSON.stringify(summary));
  return result.missing === 0 && result.duplicates === 0 && result.unexpectedLive === 0 ? 0 : 1;
}

/**
 * Live there is no ground truth: drain the relay, wait until the committed count stops moving, and report
 * what was stored per exchange and type, duplicates in the views, and the gap ledger. A configured
 * exchange and type with nothing stored is a failure.
 */
export async function finishLive(ctx: FinishContext): Promise<number> {
  const { stack } = ctx;
  await stack.scheduler?.stop();
  const relayExit = await terminateRelays(stack);
  let previous = -1;
  await waitUntil(
    async () => {
      const total = (await viewCounts(stack)).reduce((n, r) => n + r.stored, 0);
      const stable = total === previous;
      previous = total;
      return stable;
    },
    30_000,
    2_000,
  );
  const perStreamType = (await viewCounts(stack)).map(({ exchange, type, stored, duplicates }) => ({
    exchange,
    type,
    stored,
    duplicates,
  }));
  const gaps = await stack.ledger.list();
  await stack.stop();
  const stored = perStreamType.reduce((n, r) => n + r.stored, 0);
  const duplicates = perStreamType.reduce((n, r) => n + r.duplicates, 0);
  const empty = perStreamType.filter((r) => r.stored === 0).map((r) => `${r.exchange} ${r.type}`);
  const summary = {
    live: true,
    stored,
    duplicates,
    per_stream_type: perStreamType,
    gaps: gaps.length,
    gaps_open: gaps.filter((g) => g.state !== 'filled').length,
    rows_backfilled: gaps.reduce((n, g) => n + g.rowsBackfilled, 0),
    relay_exit: relayExit,
    duration_s: Math.round((Date.now() - ctx.startedAt) / 1000),
    warehouse: join(ctx.workDir, 'warehouse.duckdb'),
  };
  if (empty.length > 0) {
    console.error(
      `nothing reached the warehouse for ${empty.join(', ')}: is the exchange reachable from here? ` +
        `(see ${join(stack.workDir, 'relay.log')})`,
    );
  }
  console.log(JSON.stringify(summary));
  return empty.length === 0 && duplicates === 0 ? 0 : 1;
}

/** Drains every relay at once (one by one, each would hand its shards to the next one stopping): the
 * first exit code that is not 0, else 0 (null when none was running). */
async function terminateRelays(stack: Stack): Promise<number | null> {
  const exits = await Promise.all(stack.relays.map((r) => r.terminate()));
  return exits.find((code) => code !== 0 && code !== null) ?? exits.find((code) => code !== null) ?? null;
}
