// `npm start`: the whole pipeline on the local cloud (emulators, BigQuery stand-in on a DuckDB file,
// exchange simulator, relay, writer, and the gap-filler called by a Cloud Scheduler stand-in job every
// --gapfill-period seconds), with a status line every few seconds. With --duration it stops by
// itself, compares the warehouse with the simulator's ground truth and prints a JSON summary last.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startStack, type Stack } from './local/stack.ts';
import { REPO_ROOT } from './local/service.ts';
import { compareTrades, waitUntil } from './local/verify.ts';

const HELP = `usage: npm start -- [--duration S] [--rate N] [--symbols a,b,c] [--seed N] [--gapfill-period S] [--json]

  --duration S   run S seconds, then stop, verify against the ground truth and print a summary
                 (default: run until Ctrl-C)
  --rate N       trades per second per symbol at the simulated exchange (default 50, max 1000)
  --symbols L    comma-separated Binance symbols (default btcusdt,ethusdt,solusdt)
  --seed N       ground-truth seed (default 1)
  --gapfill-period S
                 the local Cloud Scheduler job runs the gap-filler every S seconds (default 60, its cron)
  --json         status lines and the summary as JSON
  --keep         keep the DuckDB warehouse file under .local/ (default: kept; this flag is a no-op)`;

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    rate: { type: 'string', default: '50' },
    symbols: { type: 'string', default: 'btcusdt,ethusdt,solusdt' },
    seed: { type: 'string', default: '1' },
    'gapfill-period': { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
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

const say = (text: string, data: Record<string, unknown>) =>
  console.log(json ? JSON.stringify({ message: text, ...data }) : `${text} ${formatFields(data)}`.trimEnd());

function formatFields(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
}

const runId = `run_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
const workDir = join(REPO_ROOT, '.local', runId);
mkdirSync(workDir, { recursive: true });

say('starting the local cloud', { runId, workDir, rate, symbols: symbols.join(',') });
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
    gapfill: {},
    // 60 s is the job's own cron (`* * * * *`, as deployed); anything else overrides its period.
    scheduler: gapfillPeriodS === 60 ? {} : { periodMs: gapfillPeriodS * 1000 },
  });
} catch (error) {
  console.error(`the local cloud did not start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
say('pipeline running', {
  startupMs: Date.now() - startedAt,
  exchange: stack.simulator.wsUrl,
  writer: stack.writerUrl,
  bigquery: stack.bigquery.url,
  dataset: stack.topology.dataset,
  gapfill: stack.schedulerJob,
  gapfillPeriodS,
});

const view = `\`${stack.projectId}.${stack.topology.dataset}.trades_dedup\``;
let lastRows = 0;
let lastAt = Date.now();
async function status(): Promise<void> {
  const health = (await fetch(`${stack.relayHealthUrl}/healthz`).then((r) => r.json())) as {
    counters: { ticksIn: number; ticksPublished: number; disconnects: number };
  };
  const [row] = await stack.warehouse.query<{ n: number; lag_ms: number | null }>(
    `SELECT COUNT(*) AS n, TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), MAX(exchange_ts), MILLISECOND) AS lag_ms FROM ${view}`,
  );
  const rows = Number(row?.n ?? 0);
  const gaps = await stack.ledger.list();
  const now = Date.now();
  const rowsPerSecond = Math.round(((rows - lastRows) * 1000) / Math.max(1, now - lastAt));
  lastRows = rows;
  lastAt = now;
  say('status', {
    elapsedS: Math.round((now - startedAt) / 1000),
    ticksIn: health.counters.ticksIn,
    published: health.counters.ticksPublished,
    stored: rows,
    rowsPerSecond,
    freshnessLagMs: row?.lag_ms === null || row?.lag_ms === undefined ? null : Number(row.lag_ms),
    disconnects: health.counters.disconnects,
    openGaps: gaps.filter((g) => g.state !== 'filled').length,
    rowsBackfilled: gaps.reduce((n, g) => n + g.rowsBackfilled, 0),
  });
}

const ticker = setInterval(
  () => void status().catch((e) => say('status failed', { error: String(e) })),
  5000,
);
let stopping = false;

async function finish(reason: string): Promise<number> {
  clearInterval(ticker);
  say('stopping', { reason });
  // No gap-filler run from here on: the frozen exchange below would look like an outage to backfill.
  await stack.scheduler?.stop();
  // Freeze the ground truth (sockets stay open, no new frames), let the pipeline settle, then drain the relay.
  stack.simulator.stall(3_600_000, 'drop');
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
  await waitUntil(async () => (await compare()).missing === 0, 30_000, 500);
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
    unexpected: result.unexpected,
    gaps: gaps.length,
    gaps_open: gaps.filter((g) => g.state !== 'filled').length,
    rows_backfilled: gaps.reduce((n, g) => n + g.rowsBackfilled, 0),
    relay_exit: relayExit,
    duration_s: Math.round((Date.now() - startedAt) / 1000),
    warehouse: join(workDir, 'warehouse.duckdb'),
  };
  if (!json) say('summary', { perSymbol: result.perSymbol });
  console.log(JSON.stringify(summary));
  return result.missing === 0 && result.duplicates === 0 && result.unexpected === 0 ? 0 : 1;
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
