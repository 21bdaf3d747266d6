// `npm run bench -- cost [--json] [--symbols 4] [--rate 39] [--seconds 20] [--seed 1]
//   [--reference-streams 500] [--reference-tps 10000] [--history-days 365]`
// What a tick costs: the local pipeline runs twice, today's design ("before") and the new defaults
// ("after"), its deployables reaching Pub/Sub and Firestore through counting taps (scripts/local/
// grpc-tap.ts, push-tap.ts); billed units per tick are scaled to the reference deployment and priced
// with the dated table in cost/prices.ts, beside a modelled Pub/Sub BigQuery subscription ("anchor").
// Query bytes come from the BigQuery stand-in's model over a year of history (cost/query-bytes.ts).
// Relays' own compute is counted on neither side. The last line is one JSON object (docs/COST.md).
import { parseArgs } from 'node:util';
import { startEmulators } from '../local/emulators.ts';
import { startGrpcTap } from '../local/grpc-tap.ts';
import { simulatedTypes, type ExchangeStreams } from '../local/stream-mix.ts';
import { FirestoreCounter, PublishCounter } from './cost/grpc-usage.ts';
import { measure, type RunCounts } from './cost/measure.ts';
import {
  anchorPerTick,
  anchorUsdPerTick,
  perTick,
  SECONDS_PER_MONTH,
  sum,
  usdPerTick,
  type Reference,
} from './cost/model.ts';
import { PRICES, PRICES_READ_ON } from './cost/prices.ts';
import { perStreamViewQueries, startHistoryBed } from './cost/query-bytes.ts';

/** The switches of each design (docs/COST.md); unknown ones are ignored by a build that lacks them. */
const DESIGNS = {
  before: { WRITER_INGEST: 'insert-all', RELAY_MESSAGE_FORMAT: 'v3', CHECKPOINT_LAYOUT: 'per-stream' },
  after: { WRITER_INGEST: 'storage-write', RELAY_MESSAGE_FORMAT: 'v4', CHECKPOINT_LAYOUT: 'grouped' },
} as const;
const EXCHANGE = 'binance-futures';
const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt', 'xrpusdt', 'dogeusdt', 'adausdt', 'bnbusdt', 'ltcusdt'];
/** Bed rows per day partition: the model scales them to the reference (cost/query-bytes.ts). */
const BED_ROWS_PER_DAY = 8;
const LOOKBACK_MS = 6 * 3600_000;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      symbols: { type: 'string', default: '4' },
      rate: { type: 'string', default: '39' },
      seconds: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      'reference-streams': { type: 'string', default: '500' },
      'reference-tps': { type: 'string', default: '10000' },
      'history-days': { type: 'string', default: '365' },
    },
  });
  const num = (name: keyof typeof values, min: number, max: number): number => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be within ${min}-${max}`);
    return v;
  };
  const ref: Reference = {
    streams: num('reference-streams', 1, 1e6),
    ticksPerSecond: num('reference-tps', 1, 1e8),
    historyDays: num('history-days', 1, 3660),
    gapfillRunsPerMonth: SECONDS_PER_MONTH / 60,
  };
  const symbols = SYMBOLS.slice(0, num('symbols', 1, SYMBOLS.length));
  const mix: ExchangeStreams[] = [{ exchange: EXCHANGE, symbols, types: simulatedTypes(EXCHANGE) }];
  const say = (line: string, data: Record<string, unknown> = {}) =>
    process.stderr.write(`${JSON.stringify({ bench: 'cost', message: line, ...data })}\n`);
  process.env.METADATA_SERVER_DETECTION ??= 'none';

  const publish = { current: new PublishCounter() };
  const firestore = { current: new FirestoreCounter() };
  const gapfillFirestore = { current: new FirestoreCounter() };
  const emulators = await startEmulators({ projectId: 'tickstream-cost' });
  const runs: Partial<Record<keyof typeof DESIGNS, RunCounts>> = {};
  try {
    const pubsubTap = await startGrpcTap(emulators.pubsub.host, (m) => publish.current.onMessage(m));
    const firestoreTap = await startGrpcTap(emulators.firestore.host, (m) => firestore.current.onMessage(m));
    const gapfillTap = await startGrpcTap(emulators.firestore.host, (m) =>
      gapfillFirestore.current.onMessage(m),
    );
    try {
      const taps = {
        hosts: { pubsub: pubsubTap.host, firestore: firestoreTap.host, gapfillFirestore: gapfillTap.host },
        publish: () => ({ ...publish.current.usage }),
        firestore: () => ({ ...firestore.current.usage }),
        gapfillFirestore: () => ({ ...gapfillFirestore.current.usage }),
      };
      for (const design of ['before', 'after'] as const) {
        say('measuring', { design, streams: mix, rate_per_symbol: Number(values.rate) });
        runs[design] = await measure(taps, {
          suffix: `cost_${design}_${Date.now().toString(36)}`,
          seed: num('seed', 0, 2 ** 31),
          ratePerSymbol: num('rate', 0.1, 1000),
          streams: mix,
          seconds: num('seconds', 1, 600),
          env: DESIGNS[design],
          say,
        });
      }
    } finally {
      await pubsubTap.stop();
      await firestoreTap.stop();
      await gapfillTap.stop();
    }
  } finally {
    await emulators.stop();
  }
  // Every symbol has every type: the share of trade streams (each has its trade-id query before).
  const tradeShare = mix[0]!.types.includes('trade') ? 1 / mix[0]!.types.length : 0;
  const summary = await price(runs.before!, runs.after!, ref, tradeShare, say);
  console.log(JSON.stringify(summary));
  return 0;
}

/** Reference rows per day partition of the tables the gap-filler reads, from a run's rows per tick. */
function referenceRowsPerDay(r: RunCounts, ref: Reference): Record<string, number> {
  const ticksPerDay = ref.ticksPerSecond * 86_400;
  return {
    trades: ((r.rows.trades ?? 0) / r.ticks) * ticksPerDay,
    coverage: ((r.rows.coverage ?? 0) / r.ticks) * ticksPerDay,
  };
}

async function price(
  before: RunCounts,
  after: RunCounts,
  ref: Reference,
  tradeShare: number,
  say: (line: string, data?: Record<string, unknown>) => void,
) {
  say('loading the history bed', { days: ref.historyDays, rows_per_day: BED_ROWS_PER_DAY });
  const bed = await startHistoryBed(ref.historyDays, BED_ROWS_PER_DAY);
  let queryBytes: { before: number; after: number };
  try {
    // Before: two queries per stream through the dedup views (one for a stream that is not of trades).
    const one = async (type: string) => {
      const texts = perStreamViewQueries(
        { exchange: 'binance', symbol: 'btcusdt', type },
        bed.now - LOOKBACK_MS,
        bed.now,
      );
      let total = 0;
      for (const q of texts) total += await bed.referenceBytes(q, referenceRowsPerDay(before, ref));
      return total;
    };
    const perTradeStream = await one('trade');
    const perOtherStream = await one('book_ticker');
    const beforeBytes = ref.streams * (tradeShare * perTradeStream + (1 - tradeShare) * perOtherStream);
    // After: the queries the gap-filler sent in its steady-state run.
    let afterBytes = 0;
    for (const q of after.gapfillRun.queries)
      afterBytes += await bed.referenceBytes(q, referenceRowsPerDay(after, ref));
    queryBytes = { before: beforeBytes, after: afterBytes };
  } finally {
    await bed.stop();
  }
  const counts = {
    before: perTick(before, queryBytes.before, ref),
    after: perTick(after, queryBytes.after, ref),
    anchor: anchorPerTick(after.tickJsonBytes, ref),
  };
  const usd = {
    before: usdPerTick(counts.before),
    after: usdPerTick(counts.after),
    anchor: anchorUsdPerTick(counts.anchor),
  };
  const monthTicks = ref.ticksPerSecond * SECONDS_PER_MONTH;
  const per = (scale: number) => ({
    before: round(sum(usd.before) * scale),
    after: round(sum(usd.after) * scale),
    anchor: round(sum(usd.anchor) * scale),
  });
  return {
    bench: 'cost',
    usd_per_billion_ticks: per(1e9),
    usd_per_month: per(monthTicks),
    per_tick: counts,
    usd_per_billion_ticks_by_service: {
      before: scaled(usd.before, 1e9),
      after: scaled(usd.after, 1e9),
      anchor: scaled(usd.anchor, 1e9),
    },
    query_bytes_per_gapfill_run: queryBytes,
    reference: ref,
    measured: { before: summaryOf(before), after: summaryOf(after) },
    prices: {
      read_on: PRICES_READ_ON,
      ...Object.fromEntries(Object.entries(PRICES).map(([k, p]) => [k, p.source])),
    },
    relay_compute: 'not counted on either side',
  };
}

const round = (x: number): number => Number(x.toPrecision(4));
const scaled = (parts: Record<string, number>, k: number) =>
  Object.fromEntries(Object.entries(parts).map(([name, v]) => [name, round(v * k)]));

function summaryOf(r: RunCounts) {
  return {
    ticks: r.ticks,
    streams: r.streams,
    seconds: r.seconds,
    ticks_per_stream_s: round(r.ticks / r.streams / r.seconds),
    publish: r.publish,
    push: r.push,
    writer_cpu_s: r.writerCpuSeconds,
    ingestion: r.ingestion,
    firestore: r.firestore,
    rows: r.rows,
    tick_json_bytes: round(r.tickJsonBytes),
    gapfill_run: {
      queries: r.gapfillRun.queries.length,
      firestore: r.gapfillRun.firestore,
      history_calls: r.gapfillRun.historyCalls,
      cpu_s: r.gapfillRun.cpuSeconds,
      detected: r.gapfillRun.detected,
      filled: r.gapfillRun.filled,
    },
  };
}
