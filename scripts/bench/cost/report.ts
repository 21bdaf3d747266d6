// The cost bench's summary: per-tick counts and dollars of each design at the reference, and the
// figures measured locally that they come from (docs/COST.md describes every key).
import type { BundleCuts } from './bundle-cuts.ts';
import type { RunCounts } from './measure.ts';
import {
  anchorPerTick,
  anchorUsdPerTick,
  perTick,
  SECONDS_PER_MONTH,
  sum,
  usdPerTick,
  type CheckpointDocs,
  type MessageSources,
  type Reference,
} from './model.ts';
import { PRICES, PRICES_READ_ON } from './prices.ts';
import { perStreamViewQueries, startHistoryBed, type BedStreams } from './query-bytes.ts';

/** Least bed rows per day partition (at least one per stream): the model scales them to the reference. */
const BED_ROWS_PER_DAY = 8;
/** The gap-filler's default lookback (GAPFILL_LOOKBACK_MS), which the per-stream queries used. */
const LOOKBACK_MS = 6 * 3600_000;

export type CostSummary = Awaited<ReturnType<typeof price>>;

/** Reference rows per day partition of the tables the gap-filler reads, from a run's rows per tick. */
function referenceRowsPerDay(r: RunCounts, ref: Reference): Record<string, number> {
  const ticksPerDay = ref.ticksPerSecond * 86_400;
  return {
    trades: ((r.rows.trades ?? 0) / r.ticks) * ticksPerDay,
    coverage: ((r.rows.coverage ?? 0) / r.ticks) * ticksPerDay,
  };
}

export async function price(
  before: RunCounts,
  after: RunCounts,
  ref: Reference,
  tradeShare: number,
  streams: BedStreams,
  docs: { before: CheckpointDocs; after: CheckpointDocs },
  sources: { before: MessageSources; after: MessageSources },
  bundleCuts: BundleCuts,
  say: (line: string, data?: Record<string, unknown>) => void,
) {
  // Every stream has rows in every day partition, so each per-stream query of before selects some.
  const rowsPerDay = Math.max(BED_ROWS_PER_DAY, streams.symbols.length * streams.types.length);
  say('loading the history bed', { days: ref.historyDays, rows_per_day: rowsPerDay });
  const bed = await startHistoryBed(ref.historyDays, rowsPerDay, streams);
  let queryBytes: { before: number; after: number };
  try {
    // Before: two queries per stream through the dedup views (one for a stream that is not of trades).
    const one = async (type: string) => {
      const texts = perStreamViewQueries(
        { exchange: streams.exchange, symbol: streams.symbols[0]!, type },
        bed.now - LOOKBACK_MS,
        bed.now,
      );
      let total = 0;
      for (const q of texts) total += await bed.referenceBytes(q, referenceRowsPerDay(before, ref));
      return total;
    };
    const perTradeStream = await one('trade');
    // A stream of another type of the run (its bed rows exist); none: every stream trades (share 1).
    const other = streams.types.find((t) => t !== 'trade');
    const perOtherStream = other === undefined ? 0 : await one(other);
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
    before: perTick(before, queryBytes.before, ref, docs.before, sources.before),
    after: perTick(after, queryBytes.after, ref, docs.after, sources.after),
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
    checkpoint_docs: docs,
    message_sources: sources,
    bundle_cuts: bundleCuts,
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
    relay_seconds: round(r.relaySeconds),
    ticks_per_stream_s: round(r.ticks / r.streams / r.seconds),
    publish: r.publish,
    push: r.push,
    writer_cpu_s: r.writerCpuSeconds,
    ingestion: r.ingestion,
    firestore: r.firestore,
    rows: r.rows,
    tick_json_bytes: round(r.tickJsonBytes),
    warmup: {
      seconds: r.warmup.seconds,
      ticks: r.warmup.ticks,
      writer_cpu_s: r.warmup.writerCpuSeconds,
      pushes: r.warmup.push.deliveries,
      firestore: r.warmup.firestore,
    },
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
