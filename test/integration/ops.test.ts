// `npm run ops` as an operator runs it: a child process with the deployables' environment, against the
// emulators and a local stack with the gap-filler and its Cloud Scheduler stand-in job.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import type { IdRange } from '../../scripts/local/exchange/ground-truth.ts';
import { REPO_ROOT } from '../../scripts/local/service.ts';
import { startStack, type Stack } from '../../scripts/local/stack.ts';
import { compareTrades, waitUntil } from '../../scripts/local/verify.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

const SYMBOLS = ['btcusdt', 'ethusdt'];

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

const contiguous = (symbols: readonly string[]): Record<string, IdRange[]> =>
  Object.fromEntries(
    symbols.map((symbol) => {
      const ranges = stack.simulator.sentTrades(symbol);
      return [symbol, [{ firstId: ranges[0]!.firstId, lastId: ranges[ranges.length - 1]!.lastId }]];
    }),
  );

/** Waits until the warehouse holds every trade the exchange published so far (live ones still arrive). */
async function settled(symbols: readonly string[]) {
  const expected = contiguous(symbols);
  const compare = () =>
    compareTrades(stack.warehouse, stack.projectId, stack.topology.dataset, 'binance', expected);
  let result = await compare();
  await waitUntil(async () => (result = await compare()).missing === 0, 15_000, 250);
  return result;
}

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
    gapfill: { settleMs: 2000, attemptTimeoutMs: 15_000, retryBaseMs: 500 },
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

    // Freeze the exchange briefly (frames dropped) so the truth stops moving and can be compared exactly.
    stack.simulator.stall(3_600_000, 'drop');
    const result = await settled(['btcusdt']);
    stack.simulator.clear();
    t.log(JSON.stringify(result));
    t.is(result.missing, 0, 'every btcusdt trade between the first and the last one sent is stored');
    t.is(result.duplicates, 0);
    t.is(result.unexpected, 0);
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
  t.true(await waitUntil(async () => finished().length >= 1, 60_000, 200), 'the gap-filler was called');
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
  // That run found the ethusdt hole (btcusdt was filled by hand) and the trades the stall dropped, and filled them.
  const result = await settled(SYMBOLS);
  t.log(JSON.stringify(result));
  t.is(result.missing, 0, 'the outage and the dropped frames of the stall are filled');
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
  const [asJson, table] = await Promise.all([ops(env, 'checkpoints', '--json'), ops(env, 'checkpoints')]);
  t.regex(table.stdout, /^STREAM\s+COVERED TO\s+AGE/m);
  t.regex(table.stdout, /binance:ethusdt:trade/);
  const rows = json<{ stream: string; ageMs: number | null; committedRows: number }[]>(asJson);
  t.deepEqual(
    rows.map((r) => r.stream),
    ['binance:btcusdt:trade', 'binance:ethusdt:trade'],
  );
  for (const row of rows) {
    t.true(row.committedRows > 0);
    t.true(row.ageMs !== null && row.ageMs >= -5_000 && row.ageMs < 60_000, `age ${row.ageMs}`);
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
