// `npm run bench -- e2e [--json] [--rates 1000,2000,...] [--step-seconds 20] [--warmup-seconds 5]
//   [--per-symbol 500] [--seed 1] [--refine 1]`
// End-to-end freshness of the local pipeline (simulator -> relay -> Pub/Sub emulator -> writer ->
// BigQuery stand-in): per step, a fresh stack at one total trade rate; after a warmup, every trade whose
// exchange time falls in the measured window must be committed, and freshness is ingested_at -
// exchange_ts per row of the dedup view. The highest rate with every trade committed and p99 freshness
// under 1 s is the sustained rate; a step search walks up the ladder and bisects once between the best
// pass and the first failure above it. Prints one JSON object as the last line.
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmulators } from '../local/emulators.ts';
import { tradeIdRange, type IdRange } from '../local/exchange/ground-truth.ts';
import { startStack } from '../local/stack.ts';
import { compareTrades, waitUntil } from '../local/verify.ts';
import { RssSampler } from '../chaos/rss.ts';

const SYMBOLS = [
  'btcusdt',
  'ethusdt',
  'solusdt',
  'bnbusdt',
  'xrpusdt',
  'adausdt',
  'dogeusdt',
  'avaxusdt',
  'dotusdt',
  'linkusdt',
  'ltcusdt',
  'trxusdt',
  'atomusdt',
  'uniusdt',
  'etcusdt',
  'xlmusdt',
  'nearusdt',
  'aptusdt',
  'filusdt',
  'arbusdt',
  'opusdt',
  'injusdt',
  'suiusdt',
  'pepeusdt',
  'shibusdt',
  'bchusdt',
  'icpusdt',
  'hbarusdt',
  'vetusdt',
  'algousdt',
  'aaveusdt',
  'mkrusdt',
  'grtusdt',
  'sandusdt',
  'manausdt',
  'axsusdt',
  'egldusdt',
  'thetausdt',
  'ftmusdt',
  'eosusdt',
];
const MAX_P99_MS = 1000;
/** Rates (total trades/s) whose freshness is always reported. */
const REPORTED = [2000, 5000, 10000];

export interface StepResult {
  readonly rate: number;
  readonly symbols: number;
  readonly ratePerSymbol: number;
  /** Trades whose exchange time is in the measured window, and how many the dedup view holds. */
  readonly expected: number;
  readonly stored: number;
  /** Rows per second committed in the window (stored / window length). */
  readonly committedPerS: number;
  /** Freshness: ingested_at - exchange_ts, ms. */
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
  readonly max_ms: number | null;
  /** Exchange to relay receipt (local_ts - exchange_ts): the simulator's and the socket's share. */
  readonly relay_p99_ms: number | null;
  /** Time after the window until every expected trade was committed. */
  readonly drain_ms: number;
  readonly relay_rss_mb: number;
  readonly relay_lost: number;
  /** Push deliveries the writer handled per second in the window (its `writer stats` log lines). */
  readonly deliveries_per_s: number | null;
  /** The machine's 1-minute load average at the end of the step (other work shares the cores). */
  readonly load_avg: number;
  /** 2 when the first attempt failed and the step was measured again (the better one is kept). */
  readonly attempts: number;
  readonly pass: boolean;
}

interface Histogram {
  readonly b: number;
  readonly n: number;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      rates: { type: 'string', default: '1000,2000,5000,10000,15000,20000,25000,30000' },
      'step-seconds': { type: 'string', default: '20' },
      'warmup-seconds': { type: 'string', default: '5' },
      'per-symbol': { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      refine: { type: 'string', default: '1' },
    },
  });
  const rates = values.rates
    .split(',')
    .map(Number)
    .filter((r) => r > 0)
    .sort((a, b) => a - b);
  const stepMs = Number(values['step-seconds']) * 1000;
  const warmupMs = Number(values['warmup-seconds']) * 1000;
  const perSymbol = Math.min(1000, Number(values['per-symbol']));
  const seed = Number(values.seed);
  const json = values.json;
  const say = (line: string, data: Record<string, unknown> = {}) =>
    process.stderr.write(
      json
        ? `${JSON.stringify({ bench: 'e2e', message: line, ...data })}\n`
        : `[bench e2e] ${line} ${fields(data)}\n`,
    );
  process.env.METADATA_SERVER_DETECTION ??= 'none';

  const emulators = await startEmulators({ projectId: 'tickstream-bench' });
  const steps: StepResult[] = [];
  try {
    const measure = async (rate: number) => {
      const hosts = { pubsub: emulators.pubsub.host, firestore: emulators.firestore.host };
      let result = await step(rate, { perSymbol, stepMs, warmupMs, seed, emulators: hosts, say });
      say('step', { ...result });
      if (!result.pass) {
        // The machine may be shared: a failed step is measured once more and the better attempt kept.
        const again = await step(rate, { perSymbol, stepMs, warmupMs, seed, emulators: hosts, say });
        say('step (second attempt)', { ...again });
        const better =
          again.pass || (again.p99_ms ?? Infinity) < (result.p99_ms ?? Infinity) ? again : result;
        result = { ...better, attempts: 2 };
      }
      steps.push(result);
      return result;
    };
    let failuresAbove = 0;
    for (const rate of rates) {
      const result = await measure(rate);
      failuresAbove = result.pass ? 0 : failuresAbove + 1;
      // Past the reported rates, two failures in a row end the ladder.
      if (failuresAbove >= 2 && rate >= Math.max(...REPORTED)) break;
    }
    for (let i = 0; i < Number(values.refine); i++) {
      const best = Math.max(0, ...steps.filter((s) => s.pass).map((s) => s.rate));
      const above = steps.filter((s) => !s.pass && s.rate > best).map((s) => s.rate);
      if (best === 0 || above.length === 0) break;
      const mid = Math.round((best + Math.min(...above)) / 2 / 250) * 250;
      if (mid <= best || steps.some((s) => s.rate === mid)) break;
      await measure(mid);
    }
  } finally {
    await emulators.stop();
  }

  const sustained = Math.max(0, ...steps.filter((s) => s.pass).map((s) => s.rate));
  const at = Object.fromEntries(
    REPORTED.map((rate) => {
      const s = steps.find((x) => x.rate === rate);
      return [String(rate), s ? { p50_ms: s.p50_ms, p99_ms: s.p99_ms, pass: s.pass } : null];
    }),
  );
  const summary = {
    bench: 'e2e',
    highest_sustained_tps: sustained,
    criterion: `every trade committed and p99 freshness < ${MAX_P99_MS} ms`,
    freshness: at,
    steps: steps
      .slice()
      .sort((a, b) => a.rate - b.rate)
      .map((s) => ({
        rate: s.rate,
        symbols: s.symbols,
        p50_ms: s.p50_ms,
        p99_ms: s.p99_ms,
        relay_p99_ms: s.relay_p99_ms,
        stored: s.stored,
        expected: s.expected,
        drain_ms: s.drain_ms,
        relay_rss_mb: s.relay_rss_mb,
        deliveries_per_s: s.deliveries_per_s,
        load_avg: s.load_avg,
        attempts: s.attempts,
        pass: s.pass,
      })),
    step_seconds: stepMs / 1000,
    machine: { cpus: cpus().length, mem_gib: Math.round(totalmem() / 2 ** 30) },
  };
  if (!json) {
    for (const s of summary.steps) say('result', s);
    say('highest sustained rate', { tps: sustained });
  }
  console.log(JSON.stringify(summary));
  return 0;
}

async function step(
  rate: number,
  o: {
    perSymbol: number;
    stepMs: number;
    warmupMs: number;
    seed: number;
    emulators: { pubsub: string; firestore: string };
    say: (line: string, data?: Record<string, unknown>) => void;
  },
): Promise<StepResult> {
  const count = Math.min(SYMBOLS.length, Math.max(1, Math.ceil(rate / o.perSymbol)));
  const ratePerSymbol = rate / count;
  const symbols = SYMBOLS.slice(0, count);
  o.say('starting step', { rate, symbols: count, ratePerSymbol });
  const stack = await startStack({
    suffix: `e2e_${rate}_${Date.now().toString(36)}`,
    seed: o.seed,
    ratePerSymbol,
    symbols,
    emulators: o.emulators,
    // Its own process: this one runs the simulator, which with the stand-in saturated one core at 15,000/s.
    standinProcess: true,
    // Counters every 2 s, so the delivery rate in the window can be read from the writer's log.
    writerEnv: { WRITER_STATS_INTERVAL_MS: '2000' },
  });
  const rss = new RssSampler();
  rss.track(stack.relay);
  rss.start();
  try {
    const view = `\`${stack.projectId}.${stack.topology.dataset}.trades_dedup\``;
    const started = Date.now();
    await waitUntil(
      async () => {
        const [row] = await stack.warehouse.query<{ n: number }>(
          `SELECT COUNT(DISTINCT symbol) AS n FROM ${view} WHERE exchange_ts >= @t`,
          { t: new Date(started) },
        );
        return Number(row?.n ?? 0) === count;
      },
      60_000,
      500,
    );
    await sleep(o.warmupMs);
    const from = Date.now();
    await sleep(o.stepMs);
    const to = Date.now();
    stack.simulator.stall(3600_000, 'drop');
    await sleep(200); // writes in progress at the stall settle

    // Trades of the window that were sent: a tick due in the simulator's last pass may never go out.
    const expected: Record<string, IdRange[]> = {};
    for (const symbol of symbols) {
      const range = tradeIdRange({ ...stack.simulator.groundTruth(symbol), from, to });
      const lastSent = stack.simulator.sentTrades(symbol).at(-1)?.lastId ?? 0;
      expected[symbol] = [{ firstId: range.firstId, lastId: Math.min(range.lastId, lastSent) }];
    }
    const compare = () =>
      compareTrades(stack.warehouse, stack.projectId, stack.topology.dataset, 'binance', expected);
    await waitUntil(async () => (await compare()).missing === 0, 60_000, 250);
    const drainMs = Math.max(0, Date.now() - to);
    const result = await compare();

    const histogram = async (expr: string) =>
      stack.warehouse.query<Histogram>(
        `SELECT CAST(FLOOR(d / 5) AS INT64) AS b, COUNT(*) AS n FROM (SELECT ${expr} AS d FROM ${view} ` +
          `WHERE exchange_ts >= @from AND exchange_ts < @to) GROUP BY b`,
        { from: new Date(from), to: new Date(to) },
      );
    const fresh = await histogram('UNIX_MILLIS(ingested_at) - UNIX_MILLIS(exchange_ts)');
    const relay = await histogram('UNIX_MILLIS(local_ts) - UNIX_MILLIS(exchange_ts)');
    const health = (await fetch(`${stack.relayHealthUrl}/healthz`)
      .then((r) => r.json())
      .catch(() => ({}))) as { counters?: { ticksLostBackpressure?: number; ticksLostPublish?: number } };
    rss.stop();
    const p99 = quantile(fresh, 0.99);
    return {
      rate,
      symbols: count,
      ratePerSymbol,
      expected: result.sent,
      stored: result.stored,
      committedPerS: Math.round((result.stored * 1000) / (to - from)),
      p50_ms: quantile(fresh, 0.5),
      p99_ms: p99,
      max_ms: quantile(fresh, 1),
      relay_p99_ms: quantile(relay, 0.99),
      drain_ms: drainMs,
      relay_rss_mb: rss.peakMb,
      relay_lost: (health.counters?.ticksLostBackpressure ?? 0) + (health.counters?.ticksLostPublish ?? 0),
      deliveries_per_s: deliveryRate(stack.writer.logLines(), from, to),
      load_avg: Math.round(loadavg()[0]! * 10) / 10,
      attempts: 1,
      pass: result.missing === 0 && p99 !== null && p99 < MAX_P99_MS,
    };
  } finally {
    rss.stop();
    await stack.stop();
  }
}

/** Deliveries per second between the first and the last `writer stats` line inside [from, to]. */
function deliveryRate(lines: readonly string[], from: number, to: number): number | null {
  const points: { t: number; n: number }[] = [];
  for (const line of lines) {
    if (!line.includes('"writer stats"')) continue;
    try {
      const entry = JSON.parse(line) as { time?: string; stats?: { deliveries?: number } };
      const t = Date.parse(entry.time ?? '');
      if (t >= from && t <= to && typeof entry.stats?.deliveries === 'number') {
        points.push({ t, n: entry.stats.deliveries });
      }
    } catch {
      // not a log line of ours
    }
  }
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last || last.t <= first.t) return null;
  return Math.round(((last.n - first.n) * 1000) / (last.t - first.t));
}

/** The q-quantile of a 5 ms histogram (upper edge of the bucket), or null when empty. */
function quantile(histogram: readonly Histogram[], q: number): number | null {
  const buckets = histogram.map((h) => ({ b: Number(h.b), n: Number(h.n) })).sort((a, b) => a.b - b.b);
  const total = buckets.reduce((s, h) => s + h.n, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const h of buckets) {
    seen += h.n;
    if (seen >= rank) return (h.b + 1) * 5;
  }
  return (buckets[buckets.length - 1]!.b + 1) * 5;
}

function fields(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}
