// One measured run of the local pipeline for the cost bench: a fresh stack whose deployables reach the
// emulators through counting taps (the gap-filler through its own Firestore tap) and whose push goes
// through a counting proxy. Halfway through the recording the gap-filler runs twice, as Cloud Scheduler
// would with nothing to fill; the second, warm run is the one counted. Then the feed stops and the bench
// waits until everything published is acknowledged.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_GAPFILL_OPTIONS } from '../../../functions/core/gapfill/options.ts';
import { liveGroupMembers } from '../../local/process-group.ts';
import { startPushTap, type PushUsage } from '../../local/push-tap.ts';
import { qualifiedName } from '../../local/bigquery/schema-types.ts';
import { startStack, type Stack } from '../../local/stack.ts';
import type { ExchangeStreams } from '../../local/stream-mix.ts';
import type { FirestoreUsage, PubSubPublishUsage } from './grpc-usage.ts';
import type { QueryText } from './query-bytes.ts';

/** What a window of a run used, counted at the taps, the stand-ins, /proc and the relay's counters. */
export interface WindowCounts {
  /** Ticks the relay published in the window. */
  readonly ticks: number;
  readonly publish: PubSubPublishUsage;
  readonly push: PushUsage;
  readonly writerCpuSeconds: number;
  readonly ingestion: Ingestion;
  readonly firestore: FirestoreUsage;
  /** The relay's own counters: uncompressed section bytes and batches it published (v4 bundle cuts). */
  readonly relay: { readonly bytesPublished: number; readonly batchesOut: number };
}

/** Billed units one configuration used in its counted window (after the warm-up). */
export interface RunCounts extends WindowCounts {
  readonly streams: number;
  /** How long the relay recorded after the warm-up (the gap-filler's runs in the middle lengthen it). */
  readonly seconds: number;
  /** How long the relay ran in the counted window: from its start (or the warm-up's end) to its stop. */
  readonly relaySeconds: number;
  /** Rows per tick table and coverage rows, as stored. */
  readonly rows: Readonly<Record<string, number>>;
  /** Mean JSON length of a stored tick row without the ingestion metadata (the anchor's message). */
  readonly tickJsonBytes: number;
  readonly gapfillRun: GapfillRunCounts;
  /** The relay's first seconds, counted apart: one-time work of an instance's life (docs/COST.md). */
  readonly warmup: WindowCounts & { readonly seconds: number };
}

export interface GapfillRunCounts {
  readonly queries: readonly QueryText[];
  readonly firestore: FirestoreUsage;
  readonly historyCalls: number;
  readonly cpuSeconds: number;
  /** The run's own summary: a steady-state run detects and fills nothing (its inserts are then none). */
  readonly detected: number;
  readonly filled: number;
}

export interface Ingestion {
  readonly insertAll: { requests: number; rows: number; billableBytes: number };
  readonly storageWrite: { requests: number; rows: number; billableBytes: number };
  /** False when the stand-in has no ingestion counter yet (rows then counted at the 1 KB minimum). */
  readonly counted: boolean;
}

/** What measure() reads from the taps, which outlive one stack. */
export interface Taps {
  readonly hosts: { pubsub: string; firestore: string; gapfillFirestore: string };
  publish(): PubSubPublishUsage;
  /** The relay's and the writer's Firestore use. */
  firestore(): FirestoreUsage;
  gapfillFirestore(): FirestoreUsage;
}

export interface MeasureOptions {
  readonly suffix: string;
  readonly seed: number;
  readonly ratePerSymbol: number;
  readonly streams: readonly ExchangeStreams[];
  readonly seconds: number;
  /** Seconds after the relay starts before counting (reported apart as `warmup`). */
  readonly warmupSeconds: number;
  /** Where the writer writes a V8 CPU profile (`--cpu-prof`); none when absent. */
  readonly profileDir?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly say: (line: string, data?: Record<string, unknown>) => void;
}

const TICK_TABLES = ['trades', 'quotes', 'book_changes', 'derivative_tickers', 'liquidations'];
const METADATA = ['ingested_at', 'source', 'relay_id', 'batch_id'];
const CLOCK_TICKS = 100;

/** CPU seconds (user + system, children reaped included) of a process group so far. */
export function groupCpuSeconds(pgid: number | undefined): number {
  if (pgid === undefined) return 0;
  let ticks = 0;
  for (const pid of liveGroupMembers(pgid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // the process ended between the listing and the read
    }
  }
  return ticks / CLOCK_TICKS;
}

const minus = <T extends object>(a: T, b: T): T =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Number(v) - Number((b as never)[k])])) as T;

async function ingestion(stack: Stack): Promise<Ingestion> {
  const stats = (await (await fetch(`${stack.bigquery.url}/_standin/stats`)).json()) as {
    ingestion?: Omit<Ingestion, 'counted'>;
    rows: { inserted: number; deduplicated: number };
    byRoute: Record<string, number>;
  };
  if (stats.ingestion) return { ...stats.ingestion, counted: true };
  const rows = stats.rows.inserted + stats.rows.deduplicated;
  return {
    insertAll: { requests: stats.byRoute['tabledata.insertAll'] ?? 0, rows, billableBytes: rows * 1024 },
    storageWrite: { requests: 0, rows: 0, billableBytes: 0 },
    counted: false,
  };
}

const ingestionMinus = (a: Ingestion, b: Ingestion): Ingestion => ({
  insertAll: minus(a.insertAll, b.insertAll),
  storageWrite: minus(a.storageWrite, b.storageWrite),
  counted: a.counted,
});

async function relayCounters(stack: Stack): Promise<Record<string, number>> {
  const health = (await (await fetch(`${stack.relayHealthUrl}/healthz`)).json()) as {
    counters?: Record<string, number>;
  };
  return health.counters ?? {};
}

/** Polls `done` every 100 ms; throws `what` after `ms`. */
async function until(
  done: () => boolean | Promise<boolean>,
  ms: number,
  what: string | (() => string),
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) {
      throw new Error(`cost bench: not ${typeof what === 'string' ? what : what()} within ${ms / 1000} s`);
    }
    await sleep(100);
  }
}

/** Runs the pipeline once through the taps and returns what it used. */
export async function measure(taps: Taps, o: MeasureOptions): Promise<RunCounts> {
  const stack = await startStack({
    suffix: o.suffix,
    seed: o.seed,
    ratePerSymbol: o.ratePerSymbol,
    streams: o.streams,
    emulators: { pubsub: taps.hosts.pubsub, firestore: taps.hosts.firestore },
    startRelay: false,
    relayEnv: o.env,
    // --profile: the writer writes a V8 CPU profile there when it exits (one file per design).
    writerEnv: o.profileDir ? { ...o.env, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${o.profileDir}` } : o.env,
    // The deployed settle and availability delays: the counted run sees the steady state, not the lag
    // of a loaded local machine, and fills nothing during the bench.
    gapfill: {
      settleMs: DEFAULT_GAPFILL_OPTIONS.settleMs,
      availabilityDelayMs: DEFAULT_GAPFILL_OPTIONS.availabilityDelayMs,
      env: { ...o.env, FIRESTORE_EMULATOR_HOST: taps.hosts.gapfillFirestore },
    },
  });
  const push = await startPushTap(stack.writerUrl);
  try {
    const subscription = stack.pubsub.subscription(stack.topology.pushSubscription);
    await subscription.modifyPushConfig({ pushEndpoint: push.url });
    const taken = (relay = true) => snapshot(stack, taps, push.usage(), relay);
    const start = await taken(false);
    let relayFrom = Date.now();
    await stack.relay.start();
    // One-time work (first connections, lazy client loading, the relay's startup reads) falls in the warm-up,
    // reported apart (`warmup`); every count of the run starts after it alike. Without one, counts start
    // before the relay does. A message published in the warm-up and pushed after it counts as a push.
    let from = start;
    if (o.warmupSeconds > 0) {
      await sleep(o.warmupSeconds * 1000);
      from = await taken();
      relayFrom = Date.now();
    }
    o.say('relay ready, recording', { warmup_s: o.warmupSeconds, seconds: o.seconds });
    const recordingFrom = Date.now();
    await sleep((o.seconds * 1000) / 2);
    await stack.runGapfill();
    const gapfillRun = await measureGapfillRun(stack, taps);
    await sleep((o.seconds * 1000) / 2);
    stack.simulator.stall(3600_000, 'drop');
    const recordedSeconds = (Date.now() - recordingFrom) / 1000;
    await until(async () => (await relayCounters(stack)).inFlightBatches === 0, 30_000, 'relay settled');
    const counters = await relayCounters(stack);
    await stack.relay.terminate();
    const relaySeconds = (Date.now() - relayFrom) / 1000;
    const published = () => taps.publish().messages - start.publish.messages;
    await until(
      () => push.usage().ackedMessages >= published() && push.inFlight() === 0,
      300_000,
      () => `every published message acknowledged (${push.usage().ackedMessages} of ${published()})`,
    );
    const end = { ...(await taken(false)), relay: counters };
    const run = between(from, end);
    o.say('delivered', { published: run.publish.messages, pushed: run.push.deliveries });
    return {
      ...run,
      streams: o.streams.reduce((n, m) => n + m.symbols.length * m.types.length, 0),
      seconds: recordedSeconds,
      relaySeconds,
      ...(await storedRows(stack)),
      gapfillRun,
      warmup: { seconds: o.warmupSeconds, ...between(start, from) },
    };
  } finally {
    await push.stop();
    await stack.stop();
  }
}

/** Every count the taps, the stand-in, /proc and the relay hold now. */
async function snapshot(stack: Stack, taps: Taps, push: PushUsage, relayRunning: boolean) {
  return {
    publish: taps.publish(),
    push,
    firestore: taps.firestore(),
    ingestion: await ingestion(stack),
    cpu: groupCpuSeconds(stack.writer.processId),
    relay: relayRunning ? await relayCounters(stack) : {},
  };
}

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** What was used between two snapshots. */
function between(a: Snapshot, b: Snapshot): WindowCounts {
  const relay = (k: string) => (b.relay[k] ?? 0) - (a.relay[k] ?? 0);
  return {
    ticks: relay('ticksPublished'),
    publish: minus(b.publish, a.publish),
    push: minus(b.push, a.push),
    firestore: minus(b.firestore, a.firestore),
    ingestion: ingestionMinus(b.ingestion, a.ingestion),
    writerCpuSeconds: b.cpu - a.cpu,
    relay: { bytesPublished: relay('bytesPublished'), batchesOut: relay('batchesOut') },
  };
}
/** One steady-state gap-filler run: its queries (as sent), Firestore operations, history calls, CPU. */
async function measureGapfillRun(stack: Stack, taps: Taps): Promise<GapfillRunCounts> {
  const jobs0 = new Set((await stack.bigqueryClient.getJobs())[0].map((j) => j.id));
  const firestore0 = taps.gapfillFirestore();
  const history0 = stack.history?.requests().length ?? 0;
  const cpu0 = groupCpuSeconds(stack.gapfill?.processId);
  const summary = await stack.runGapfill();
  const cpuSeconds = groupCpuSeconds(stack.gapfill?.processId) - cpu0;
  const jobs = (await stack.bigqueryClient.getJobs())[0].filter((j) => !jobs0.has(j.id));
  const queries = jobs.map((j) => {
    const q = (j.metadata as { configuration: { query: { query: string; queryParameters?: [] } } })
      .configuration.query;
    return { sql: q.query, params: q.queryParameters ?? [] };
  });
  return {
    queries,
    firestore: minus(taps.gapfillFirestore(), firestore0),
    historyCalls: (stack.history?.requests().length ?? 0) - history0,
    cpuSeconds,
    detected: summary.detected,
    filled: summary.filled,
  };
}

/** Live rows stored per table and the mean JSON size of a tick row without our ingestion metadata. */
async function storedRows(stack: Stack): Promise<{ rows: Record<string, number>; tickJsonBytes: number }> {
  const rows: Record<string, number> = {};
  let jsonBytes = 0;
  let tickRows = 0;
  for (const table of [...TICK_TABLES, 'coverage']) {
    const name = qualifiedName(stack.topology.dataset, table);
    const exclude = TICK_TABLES.includes(table) ? ` EXCLUDE (${METADATA.join(', ')})` : '';
    // Live rows only: the reference has no backfill in steady state.
    const outcome = await stack.bigquery.warehouse.query(
      `SELECT count(*), COALESCE(sum(length(CAST(to_json(t) AS VARCHAR))), 0) ` +
        `FROM (SELECT *${exclude} FROM ${name} WHERE source = 'live') t`,
      undefined,
    );
    const [count, bytes] = (outcome.rows[0] ?? [0, 0]).map(Number);
    rows[table] = count!;
    if (TICK_TABLES.includes(table)) {
      tickRows += count!;
      jsonBytes += bytes!;
    }
  }
  return { rows, tickJsonBytes: tickRows === 0 ? 0 : jsonBytes / tickRows };
}
