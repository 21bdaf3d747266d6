// `npm run ops` as an operator runs it: a child process with the deployables' environment, against the
// emulators and a local stack with the gap-filler and its Cloud Scheduler stand-in job.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { tickSource, type IdRange } from '../../scripts/local/exchange/ground-truth.ts';
import { REPO_ROOT } from '../../scripts/local/service.ts';
import { startStack, type Stack } from '../../scripts/local/stack.ts';
import { compareTrades, waitUntil } from '../../scripts/local/verify.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

const SYMBOLS = ['btcusdt', 'ethusdt'];
/** The gap-filler's settle time in this stack, and its backfill margin (GapfillOptions.marginMs). */
const SETTLE_MS = 2000;
const MARGIN_MS = 2000;
/** The Scheduler job's attempt deadline (stack.ts): the stand-in ends every attempt by then. */
const ATTEMPT_DEADLINE_MS = 300_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with only `env` (plus what any process needs), as `npm run ops -- ...args` would. */
function ops(env: Readonly<Record<string, string>>, ...args: string[]): Promise<Run> {
  const base = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    METADATA_SERVER_DETECTION: 'none',
  };
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/ops.ts', ...args],
      { cwd: REPO_ROOT, env: { ...base, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        if (process.env.OPS_TEST_TIMING) console.error(`ops ${args.join(' ')}: ${Date.now() - started} ms`);
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function json<T>(run: Run): T {
  if (run.code !== 0) throw new Error(`ops exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

interface GapView {
  id: string;
  stream: string;
  state: string;
  detectedBy: string;
  rowsBackfilled: number;
  fromMs: number;
  toMs: number;
}

interface JobView {
  name: string;
  state: string;
  schedule: string;
  uri: string;
  lastAttemptTime: string | null;
  status: { code: number; message: string } | null;
}

let stack: Stack;
let env: Readonly<Record<string, string>>;
/** The outage both symbols went through: [from, to) in wall-clock ms. */
let outage: { from: number; to: number };

/**
 * Per symbol, the trade ids the gap-filler answers for once a fill has returned: every trade from the
 * first one sent up to the exchange time `before`. Trades sent later may still be queued on their way
 * through Pub/Sub and the writer (minutes behind on a loaded machine), which is not what these tests judge.
 */
function tradesBefore(symbols: readonly string[], before: number): Record<string, IdRange[]> {
  return Object.fromEntries(
    symbols.map((symbol) => {
      const firstId = stack.simulator.sentTrades(symbol)[0]!.firstId;
      // Trade id = ground-truth index + 1, so the ids of ticks before `before` end at that index.
      const lastId = tickSource('trade', stack.simulator.groundTruth(symbol)).indexAtOrAfter(before);
      return [symbol, [{ firstId, lastId }]];
    }),
  );
}

const compare = (expected: Record<string, IdRange[]>) =>
  compareTrades(stack.warehouse, stack.projectId, stack.topology.dataset, 'binance', expected);

const sentSoFar = (symbol: string) =>
  stack.simulator.sentTrades(symbol).reduce((n, r) => n + r.lastId - r.firstId + 1, 0);

test.before(async () => {
  const t0 = Date.now();
  const emulators = requireEmulators();
  stack = await startStack({
    suffix: uniqueName('ops'),
    seed: 11,
    ratePerSymbol: 20,
    symbols: SYMBOLS,
    emulators: { pubsub: emulators.pubsub, firestore: emulators.firestore },
    gapfill: { settleMs: SETTLE_MS, attemptTimeoutMs: 15_000, retryBaseMs: 500 },
    // An hour: the job runs only when the test says so.
    scheduler: { periodMs: 3_600_000 },
  });
  env = stack.opsEnv;
  await waitUntil(async () => sentSoFar('btcusdt') > 100, 30_000, 100);
  // A connection drop: every symbol misses the trades published while the relay was away.
  const before = stack.simulator.stats().connections;
  const from = Date.now();
  stack.simulator.refuse(2500);
  stack.simulator.dropAll();
  await waitUntil(async () => stack.simulator.stats().connections > before, 45_000, 100);
  await sleep(1500);
  outage = { from, to: Date.now() };
  if (process.env.OPS_TEST_TIMING)
    console.error(`before: ${Date.now() - t0} ms, outage ${outage.to - outage.from} ms`);
});

test.after.always(async () => {
  await stack?.stop();
});

test.serial(
  'ops backfill fills a window by hand with exactly the trades the exchange published',
  async (t) => {
    const run = await ops(
      env,
      'backfill',
      '--stream',
      'binance:btcusdt:trade',
      '--from',
      new Date(outage.from - 1000).toISOString(),
      '--to',
      new Date(outage.to).toISOString(),
      '--json',
    );
    const gap = json<GapView>(run);
    t.log(JSON.stringify(gap));
    t.is(gap.stream, 'binance:btcusdt:trade');
    t.is(gap.detectedBy, 'manual');
    t.is(gap.state, 'filled');
    t.true(gap.rowsBackfilled > 0, 'the outage had trades');

    // The backfill has returned: every trade of the window is stored now, whatever the live path's lag.
    const window = Object.fromEntries(
      [gap.fromMs, gap.toMs].map((ms, i) => [i, tradesBefore(['btcusdt'], ms).btcusdt![0]!.lastId]),
    );
    const inWindow = await compare({ btcusdt: [{ firstId: window[0]! + 1, lastId: window[1]! }] });
    t.log(JSON.stringify(inWindow));
    t.true(inWindow.sent > 0);
    t.is(inWindow.missing, 0, 'every btcusdt trade of the window is stored');
    // No trade twice, none before the first one sent, none the exchange has not published yet. (Live
    // trades keep arriving, so the upper end is judged after the query, from the ground truth.)
    const all = await compare(tradesBefore(['btcusdt'], Date.now() + 3_600_000));
    t.is(all.duplicates, 0);
    t.is(all.unexpected, 0);
    const [newest] = await stack.warehouse.query<{ id: number }>(
      `SELECT MAX(CAST(trade_id AS INT64)) AS id FROM \`${stack.projectId}.${stack.topology.dataset}.trades_dedup\` ` +
        `WHERE symbol = 'btcusdt'`,
    );
    t.true(Number(newest?.id) <= tradesBefore(['btcusdt'], Date.now()).btcusdt![0]!.lastId);
    const [ledger] = await stack.ledger.list({
      stream: { exchange: 'binance', symbol: 'btcusdt', type: 'trade' },
    });
    t.is(ledger?.id, gap.id, 'the window is in the ledger');
  },
);

test.serial('ops scheduler pauses, resumes and runs the gap-filler job through the stand-in', async (t) => {
  const job = stack.schedulerJob!;
  t.is(json<JobView>(await ops(env, 'scheduler', 'pause', '--json')).state, 'PAUSED');
  const paused = await ops(env, 'scheduler', 'status');
  t.is(paused.code, 0, paused.stderr);
  t.regex(paused.stdout, /state\s+PAUSED/);
  t.is(json<JobView>(await ops(env, 'scheduler', 'resume', '--json')).state, 'ENABLED');

  const run = await ops(env, 'scheduler', 'run');
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /dispatched now/);
  const finished = () => stack.scheduler!.attempts(job).filter((a) => a.finishedAt !== undefined);
  // The stand-in ends every attempt by its deadline, so this wait is bounded by the system under test.
  t.true(
    await waitUntil(async () => finished().length >= 1, ATTEMPT_DEADLINE_MS + 10_000, 200),
    'the gap-filler was called',
  );
  t.is(finished()[0]!.trigger, 'run');
  t.is(finished()[0]!.httpStatus, 200);

  const after = json<JobView>(await ops(env, 'scheduler', 'status', '--json'));
  t.is(after.name, job);
  t.is(after.state, 'ENABLED');
  t.is(after.schedule, '* * * * *');
  const port = stack.gapfill!.spec.args.find((a) => a.startsWith('--port='))!.slice('--port='.length);
  t.is(after.uri, `http://127.0.0.1:${port}/`, 'the job targets the gap-filler');
  t.truthy(after.lastAttemptTime);
  t.is(after.status?.code, 0);
  // That run found the ethusdt hole (btcusdt was filled by hand) and filled it. More: a run leaves no trade
  // older than its horizon (its start - settle) missing, since any time not yet committed by the writer
  // is a hole to it too. Allow the backfill margin for the relay receiving a trade after its exchange time.
  const horizon = finished()[0]!.startedAt - SETTLE_MS - MARGIN_MS;
  t.true(horizon > outage.to, 'the run started after the outage had settled');
  const result = await compare(tradesBefore(SYMBOLS, horizon));
  t.log(JSON.stringify(result));
  t.is(result.missing, 0, 'the outage is filled and nothing older than the horizon is missing');
  t.is(result.duplicates, 0);
});

test.serial('ops gaps lists the ledger as a table and as JSON, filtered by state and stream', async (t) => {
  const all = json<GapView[]>(await ops(env, 'gaps', '--json'));
  t.log(JSON.stringify(all.map((g) => [g.stream, g.detectedBy, g.state, g.rowsBackfilled])));
  t.true(all.some((g) => g.stream === 'binance:btcusdt:trade' && g.detectedBy === 'manual'));
  t.true(
    all.some((g) => g.stream === 'binance:ethusdt:trade' && g.detectedBy !== 'manual'),
    'the run found a gap',
  );
  t.true(all.every((g) => g.state === 'filled'));

  t.deepEqual(json<GapView[]>(await ops(env, 'gaps', '--state', 'open,failed', '--json')), []);
  const table = await ops(env, 'gaps', '--stream', 'binance:ethusdt:trade');
  t.is(table.code, 0, table.stderr);
  const eth = all.filter((g) => g.stream === 'binance:ethusdt:trade');
  t.regex(table.stdout, /^GAP\s+STREAM\s+FROM\s+TO/m);
  t.is(table.stdout.match(/binance:\w+:trade/g)?.length, eth.length, 'only the ethusdt gaps');
  t.regex(table.stdout, new RegExp(`^${eth.length} gaps?: filled ${eth.length}$`, 'm'));
});

test.serial('ops checkpoints lists every stream with its age', async (t) => {
  // The age is now - coveredTo at the moment the CLI read it: bracket that moment with our own clock and
  // the stored checkpoints, rather than bound the writer's lag (minutes on a loaded machine).
  const stored = async () =>
    new Map((await stack.checkpoints.list()).map((c) => [`binance:${c.stream.symbol}:trade`, c.coveredTo]));
  const before = await stored();
  const startedAt = Date.now();
  const [asJson, table] = await Promise.all([ops(env, 'checkpoints', '--json'), ops(env, 'checkpoints')]);
  const endedAt = Date.now();
  const after = await stored();
  t.regex(table.stdout, /^STREAM\s+COVERED TO\s+AGE/m);
  t.regex(table.stdout, /binance:ethusdt:trade/);
  const rows =
    json<{ stream: string; ageMs: number | null; coveredTo: string | null; committedRows: number }[]>(asJson);
  t.deepEqual(
    rows.map((r) => r.stream),
    ['binance:btcusdt:trade', 'binance:ethusdt:trade'],
  );
  for (const row of rows) {
    t.true(row.committedRows > 0);
    const coveredTo = Date.parse(row.coveredTo ?? '');
    // coveredTo only moves forward: the CLI saw a value between our two reads.
    t.true(coveredTo >= before.get(row.stream)! && coveredTo <= after.get(row.stream)!, row.stream);
    // ...and computed the age from a clock reading inside the CLI's run.
    t.true(row.ageMs !== null, row.stream);
    const readAt = coveredTo + row.ageMs!;
    t.true(readAt >= startedAt - 1 && readAt <= endedAt + 1, `age ${row.ageMs} ms of ${row.stream}`);
  }
});

test('ops fails clearly: a missing variable, an unknown stream or state, an unknown command', async (t) => {
  const minimal = { GOOGLE_CLOUD_PROJECT: 'ops-errors', RELAY_STREAMS: 'binance:btcusdt:trade' };
  const [noProject, noJob, badStream, badState, badCommand, badTime, help] = await Promise.all([
    ops({}, 'gaps'),
    ops(minimal, 'scheduler', 'status'),
    ops(
      minimal,
      'backfill',
      '--stream',
      'binance:nosuch:trade',
      '--from',
      '2026-01-01T00:00:00Z',
      '--to',
      '2026-01-01T00:01:00Z',
    ),
    ops(minimal, 'gaps', '--state', 'open,lost'),
    ops(minimal, 'frobnicate'),
    ops(
      minimal,
      'backfill',
      '--stream',
      'binance:btcusdt:trade',
      '--from',
      'yesterday',
      '--to',
      '2026-01-01T00:01:00Z',
    ),
    ops({}, '--help'),
  ]);
  t.is(noProject.code, 78);
  t.regex(noProject.stderr, /GOOGLE_CLOUD_PROJECT/);
  t.is(noJob.code, 78);
  t.regex(noJob.stderr, /SCHEDULER_JOB/);
  t.is(badStream.code, 2);
  t.regex(badStream.stderr, /unknown stream "binance:nosuch:trade".*binance:btcusdt:trade/);
  t.is(badState.code, 2);
  t.regex(badState.stderr, /unknown gap state "lost"/);
  t.is(badCommand.code, 2);
  t.regex(badCommand.stderr, /unknown command "frobnicate"/);
  t.is(badTime.code, 2);
  t.regex(badTime.stderr, /--from "yesterday"/);
  t.is(help.code, 0);
  t.regex(help.stdout, /usage: npm run ops/);
  t.regex(help.stdout, /SCHEDULER_API_ENDPOINT/);
});
