// `npm start`: the whole pipeline on the local cloud (emulators, BigQuery stand-in on a DuckDB file,
// exchange simulator, relay, writer, and the gap-filler called by a Cloud Scheduler stand-in job every
// --gapfill-period seconds), with a status line every few seconds. With --duration it stops by
// itself, compares the warehouse with the simulator's ground truth and prints a JSON summary last.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startStack, type Stack } from './local/stack.ts';
import { REPO_ROOT } from './local/service.ts';
import { settleGapfill, waitForDrain } from './local/settle.ts';
import { compareTrades, waitUntil } from './local/verify.ts';
import { errorMessage } from '../functions/core/shared/errors.ts';
import { startStatusPage } from './ops/serve.ts';

const HELP = `usage: npm start -- [--duration S] [--rate N] [--symbols a,b,c] [--seed N] [--gapfill-period S] [--json] [--live]

  --duration S   run S seconds, then stop, verify against the ground truth and print a summary
                 (default: run until Ctrl-C)
  --rate N       trades per second per symbol at the simulated exchange (default 50, max 1000)
  --symbols L    comma-separated Binance symbols (default btcusdt,ethusdt,solusdt)
  --seed N       ground-truth seed (default 1)
  --gapfill-period S
                 the local Cloud Scheduler job runs the gap-filler every S seconds (default 60, its cron)
  --json         status lines and the summary as JSON
  --live         connect the relay to the real Binance websocket and backfill from the real Tardis.dev API
                 (TARDIS_API_KEY from the environment, optional) instead of the simulator: needs the
                 network; there is no ground truth, so the summary reports what was stored and the gaps
  --keep         keep the DuckDB warehouse file under .local/ (default: kept; this flag is a no-op)`;

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    rate: { type: 'string', default: '50' },
    symbols: { type: 'string', default: 'btcusdt,ethusdt,solusdt' },
    seed: { type: 'string', default: '1' },
    'gapfill-period': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    live: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function positive(name: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    console.error(`--${name} must be a number in (0, ${max}], got ${JSON.stringify(raw)}\n\n${HELP}`);
    process.exit(2);
  }
  return n;
}
const duration = positive('duration', values.duration, 86_400);
const rate = positive('rate', values.rate, 1000)!;
const seed = positive('seed', values.seed, 2 ** 31)!;
const gapfillPeriodS = positive('gapfill-period', values['gapfill-period'], 86_400)!;
const symbols = values.symbols
  .split(',')
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);
const json = values.json;
const live = values.live;

const say = (text: string, data: Record<string, unknown>) =>
  console.log(json ? JSON.stringify({ message: text, ...data }) : `${text} ${formatFields(data)}`.trimEnd());

function formatFields(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
}

/** The gap-filler's settle time in this stack (it judges only time older than this). */
const SETTLE_MS = 3000;

const runId = `run_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
const workDir = join(REPO_ROOT, '.local', runId);
mkdirSync(workDir, { recursive: true });

say('starting the local cloud', {
  runId,
  workDir,
  exchange: live ? 'binance (live)' : 'simulator',
  ...(live ? {} : { rate }),
  symbols: symbols.join(','),
});
const startedAt = Date.now();
let stack: Stack;
try {
  stack = await startStack({
    suffix: runId,
    seed,
    ratePerSymbol: rate,
    symbols,
    workDir,
    bigqueryDbPath: join(workDir, 'warehouse.duckdb'),
    gapfill: { settleMs: SETTLE_MS },
    // 60 s is the job's own cron (`* * * * *`, as deployed); anything else overrides its period.
    scheduler: gapfillPeriodS === 60 ? {} : { periodMs: gapfillPeriodS * 1000 },
    live,
  });
} catch (error) {
  console.error(`the local cloud did not start: ${errorMessage(error)}`);
  process.exit(1);
}
say('pipeline running', {
  startupMs: Date.now() - startedAt,
  exchange: live ? 'wss://stream.binance.com (tardis-dev default)' : stack.simulator.wsUrl,
  writer: stack.writerUrl,
  bigquery: stack.bigquery.url,
  dataset: stack.topology.dataset,
  gapfill: stack.schedulerJob,
  gapfillPeriodS,
});

// The status page of this run (`npm run ops -- serve` in-process); it stops with the process.
await startStatusPage(stack.opsEnv).then(
  (page) => say('status page', { url: page.url }),
  (error: unknown) => say('status page not started', { error: errorMessage(error) }),
);

const view = `\`${stack.projectId}.${stack.topology.dataset}.trades_dedup\``;
let last = { at: Date.now(), rows: 0, ticksIn: 0 };
/** One status line: relay intake, committed rows, per-stream freshness lag, gaps and backfill. */
async function status(): Promise<void> {
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
}

const ticker = setInterval(
  () => void status().catch((e) => say('status failed', { error: String(e) })),
  5000,
);
let stopping = false;

async function finish(reason: string): Promise<number> {
  clearInterval(ticker);
  say('stopping', { reason });
  if (live) return finishLive();
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
    duration_s: Math.round((Date.now() - startedAt) / 1000),
    warehouse: join(workDir, 'warehouse.duckdb'),
  };
  if (!json) say('summary', { perSymbol: result.perSymbol });
  console.log(JSON.stringify(summary));
  return result.missing === 0 && result.duplicates === 0 && result.unexpectedLive === 0 ? 0 : 1;
}

/**
 * Live there is no ground truth: drain the relay, wait until the committed count stops moving, and report
 * what was stored per symbol, duplicates in the view, and the gap ledger. Nothing stored is a failure.
 */
async function finishLive(): Promise<number> {
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
    duration_s: Math.round((Date.now() - startedAt) / 1000),
    warehouse: join(workDir, 'warehouse.duckdb'),
  };
  if (stored === 0) {
    console.error('no trade reached the warehouse: is the exchange reachable from here? (see relay.log)');
  }
  console.log(JSON.stringify(summary));
  return stored > 0 && duplicates === 0 ? 0 : 1;
}

async function interrupt(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  // The emulators stop on the same signal; drain what can be drained and leave nothing running.
  say('interrupted: stopping every process of this run', { signal });
  await stack.relay.terminate().catch(() => undefined);
  await stack.stop();
  say('stopped', { warehouse: join(workDir, 'warehouse.duckdb') });
  process.exit(130);
}
process.on('SIGINT', () => void interrupt('SIGINT'));
process.on('SIGTERM', () => void interrupt('SIGTERM'));

if (duration !== undefined) {
  setTimeout(() => {
    if (stopping) return;
    stopping = true;
    void finish(`duration ${duration}s reached`).then(
      (code) => process.exit(code),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  }, duration * 1000);
}
