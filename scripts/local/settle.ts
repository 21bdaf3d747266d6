// Settling a local run before it is judged: batches still in flight land first (a batch queued in Pub/Sub
// is not a hole), then the gap-filler runs as Cloud Scheduler would until nothing is open or missing.
// Used by `npm start --duration`, the chaos runs and the end-to-end benchmark.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stack } from './stack.ts';
import { waitUntil } from './verify.ts';

/** What settling reads of a comparison with the ground truth. */
export interface Progress {
  readonly stored: number;
  readonly missing: number;
}

/**
 * Waits until nothing is missing, or until the stored count has stopped moving and every stream's
 * committed live coverage reaches the newest tick the relay received on it (what is still missing then
 * was lost, not delayed).
 */
export async function waitForDrain(
  stack: Stack,
  compare: () => Promise<Progress>,
  timeoutMs: number,
): Promise<{ drained: boolean; missing: number; waitedMs: number }> {
  const started = Date.now();
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
      return relayCoverageCommitted(stack);
    },
    timeoutMs,
    500,
  );
  return { drained, missing, waitedMs: Date.now() - started };
}

/**
 * Whether every stream's committed live coverage reaches the receive time of its newest tick, as the relay
 * publishing it saw it (in a fleet, every running member's published streams; a standby's are left out).
 */
async function relayCoverageCommitted(stack: Stack): Promise<boolean> {
  const urls = stack.relayHealthUrls.filter((_, i) => stack.relays[i]!.running);
  const answers = await Promise.all(
    urls.map(
      (url) =>
        fetch(`${url}/healthz`).then((r) => r.json()) as Promise<{
          streams?: { stream: string; lastTickAt: number | null; standby?: boolean }[];
        }>,
    ),
  );
  const published = answers.flatMap((a) => a.streams ?? []).filter((s) => s.standby !== true);
  const coverage = `\`${stack.projectId}.${stack.topology.dataset}.coverage_dedup\``;
  const rows = await stack.warehouse.query<{
    exchange: string;
    symbol: string;
    data_type: string;
    t: number;
  }>(
    `SELECT exchange, symbol, data_type, MAX(UNIX_MILLIS(window_to)) AS t FROM ${coverage} ` +
      `WHERE source = 'live' GROUP BY exchange, symbol, data_type`,
  );
  const committed = new Map(rows.map((r) => [`${r.exchange}:${r.symbol}:${r.data_type}`, Number(r.t)]));
  return published.every((s) => s.lastTickAt === null || (committed.get(s.stream) ?? -1) >= s.lastTickAt);
}

/** Runs the gap-filler as Cloud Scheduler would until no gap is open and nothing is missing. */
export async function settleGapfill<P extends Progress>(
  stack: Stack,
  compare: () => Promise<P>,
  timeoutMs: number,
): Promise<{ settled: boolean; runs: number; result: P }> {
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
