// `npm start`: the whole pipeline on the local cloud (emulators, BigQuery stand-in on a DuckDB file,
// exchange simulator, relay, writer, and the gap-filler called by a Cloud Scheduler stand-in job every
// --gapfill-period seconds), with a status line every few seconds. With --duration it stops by
// itself, compares the warehouse with the simulator's ground truth and prints a JSON summary last.
// The flags are in start/args.ts, the status line in start/status.ts, the ending in start/finish.ts.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, type Stack } from './local/stack.ts';
import { REPO_ROOT } from './local/service.ts';
import { LOCAL_MIN_SHARDS, parseStartArgs, sayer } from './start/args.ts';
import { finishLive, finishSimulated, SETTLE_MS, type FinishContext } from './start/finish.ts';
import { statusReporter } from './start/status.ts';
import { localBatchWaitMs, streamsConfigOf } from './local/stream-mix.ts';
import { errorMessage } from '../functions/core/shared/errors.ts';
import { startStatusPage } from './ops/serve.ts';

const { duration, rate, seed, gapfillPeriodS, mix, json, live, relays } = parseStartArgs();
const say = sayer(json);

const runId = `run_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
const workDir = join(REPO_ROOT, '.local', runId);
mkdirSync(workDir, { recursive: true });

say('starting the local cloud', {
  runId,
  workDir,
  exchange: live ? 'live' : 'simulator',
  ...(live ? {} : { rate }),
  streams: streamsConfigOf(mix),
  relays,
});
const startedAt = Date.now();
let stack: Stack;
try {
  stack = await startStack({
    suffix: runId,
    seed,
    ratePerSymbol: rate,
    streams: mix,
    workDir,
    bigqueryDbPath: join(workDir, 'warehouse.duckdb'),
    gapfill: { settleMs: SETTLE_MS },
    // 60 s is the job's own cron (`* * * * *`, as deployed); anything else overrides its period.
    scheduler: gapfillPeriodS === 60 ? {} : { periodMs: gapfillPeriodS * 1000 },
    live,
    // v4 messages bundle every stream's batches (one message per poll), so only v3 needs the wait that grows
    // with the streams (with 200 symbols it passed the relay's 5 s limit).
    relayEnv:
      process.env.RELAY_MESSAGE_FORMAT === 'v3' ? { BATCH_MAX_WAIT_MS: String(localBatchWaitMs(mix)) } : {},
    // A fleet of `relays` (1: the single relay without a fleet); two shards per exchange spread the mix.
    relays,
    ...(relays > 1 ? { fleet: { minShards: LOCAL_MIN_SHARDS } } : {}),
  });
} catch (error) {
  console.error(`the local cloud did not start: ${errorMessage(error)}`);
  process.exit(1);
}
say('pipeline running', {
  startupMs: Date.now() - startedAt,
  exchange: live ? "the exchanges' own websockets (tardis-dev defaults)" : stack.simulator.wsUrls,
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

const status = statusReporter(stack, say, startedAt);
const ticker = setInterval(
  () => void status().catch((e) => say('status failed', { error: String(e) })),
  5000,
);
let stopping = false;
const finishContext: FinishContext = { stack, json, say, startedAt, workDir };

async function finish(reason: string): Promise<number> {
  clearInterval(ticker);
  say('stopping', { reason });
  return live ? finishLive(finishContext) : finishSimulated(finishContext);
}

async function interrupt(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  // The emulators stop on the same signal; drain what can be drained and leave nothing running.
  say('interrupted: stopping every process of this run', { signal });
  await Promise.all(stack.relays.map((r) => r.terminate().catch(() => undefined)));
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
