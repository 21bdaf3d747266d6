// What one chaos run reports (the last JSON line of `npm run chaos`): measured from the warehouse, the
// gap ledger and the harness once the gap-filler has settled.
import { loadavg } from 'node:os';
import type { Stack } from '../local/stack.ts';
import type { ExpectedStream, MixComparison, StreamTypeCounts } from '../local/verify-mix.ts';
import type { ChaosContext, FaultRecord } from './faults.ts';
import { backfilledRows, ledgerRpo, liveMissingSpan, poisonOutcome, recoveryTimes } from './measure.ts';
import { fleetFaultMeasures, type FleetFaultMeasure, type FleetMeasures } from './fleet-measure.ts';
import type { Plan, ScenarioName } from './plan.ts';

export interface FaultSummary {
  readonly kind: string;
  /** Offset of the fault's start from the start of the fault phase, ms. */
  readonly at_ms: number;
  readonly length_ms: number;
  /** Recovery time of this fault (FaultOutcome.rtoMs). */
  readonly rto_ms: number | null;
  readonly detail: Record<string, unknown>;
  /** In a fleet run: the longest span of trades no live row holds within the fault's window. */
  readonly rpo_live_span_ms?: number;
  /** In a fleet run: backfilled rows the views serve within the fault's window. */
  readonly backfilled?: number;
  /** In a fleet run: where those rows and the live holes lie (FleetFaultMeasure). */
  readonly backfilled_at?: FleetFaultMeasure['backfilled_at'];
  readonly live_holes?: FleetFaultMeasure['live_holes'];
}

export interface ChaosResult {
  readonly scenario: ScenarioName;
  readonly seed: number;
  readonly sent: number;
  readonly stored_unique: number;
  readonly missing: number;
  readonly duplicates_in_views: number;
  /** The same four counts per exchange and data type of the run's mix. */
  readonly per_stream_type: readonly StreamTypeCounts[];
  readonly raw_duplicates: number;
  /** Slowest recovery over all faults (see FaultOutcome.rtoMs); null when a stream never recovered. */
  readonly rto_ms: number | null;
  /** Longest coverage hole in the gap ledger (merged per stream), clipped to the run window. */
  readonly rpo_ms: number;
  /** Backfilled rows the dedup views serve within the run, every exchange and type. */
  readonly backfilled: number;
  readonly max_rss_mb: number;
  /** Longest exchange-time span of trades no live row holds (what the backfill had to supply). */
  readonly rpo_live_span_ms: number;
  readonly missing_live: number;
  readonly gaps: number;
  readonly gapfill_runs: number;
  readonly settled: boolean;
  /** Live rows in the view outside the run's id ranges (must be 0). */
  readonly unexpected_live: number;
  readonly poison?: { published: number; quarantined: number; tickRows: number };
  /** In a fleet run: each check a fleet fault failed (empty: all passed; see fleet-measure.ts). */
  readonly fleet_failures?: readonly string[];
  readonly faults: readonly FaultSummary[];
  readonly duration_s: number;
  /** The machine's 1-minute load average when the run started and when it ended. */
  readonly load_avg: { readonly start: number; readonly end: number };
  /** Seconds per stage: start, warmup, faults, recovery, drain, gapfill, measure. */
  readonly timings_s: Readonly<Record<string, number>>;
  readonly ok: boolean;
  readonly workDir: string;
}

/** What the run knows when it starts measuring. */
export interface RunFacts {
  readonly plan: Plan;
  readonly startedAt: number;
  readonly runFrom: number;
  readonly phaseStart: number;
  readonly loadAtStart: number;
  readonly records: readonly FaultRecord[];
  readonly expected: readonly ExpectedStream[];
  readonly settle: { settled: boolean; runs: number; result: MixComparison };
  readonly timings: Record<string, number>;
  readonly lap: (stage: string) => void;
}

/** Logs the gaps, measures recovery, RPO, sources and poison, and judges the run. */
export async function measureRun(stack: Stack, ctx: ChaosContext, facts: RunFacts): Promise<ChaosResult> {
  const { plan, startedAt, runFrom, phaseStart, loadAtStart, records, expected, settle, timings, lap } =
    facts;
  const log = ctx.log;
  for (const gap of await stack.ledger.list()) {
    log('gap', {
      stream: `${gap.stream.exchange}:${gap.stream.symbol}:${gap.stream.type}`,
      fromMs: gap.from - phaseStart,
      lengthMs: gap.to - gap.from,
      by: gap.detectedBy,
      state: gap.state,
      rows: gap.rowsBackfilled,
    });
  }
  const outcomes = await recoveryTimes(stack, records);
  const rpo = await ledgerRpo(stack, runFrom, expected);
  const live = await liveMissingSpan(stack, expected);
  const backfilled = await backfilledRows(stack, expected);
  const poison = ctx.poisonIds.length > 0 ? await poisonOutcome(stack, ctx.poisonIds) : undefined;
  const fleet: FleetMeasures | undefined = stack.fleet
    ? await fleetFaultMeasures(stack, records, expected)
    : undefined;
  ctx.rss.stop();
  lap('measure');

  const result = settle.result;
  const rtos = outcomes.map((o) => o.rtoMs);
  const rto = rtos.length === 0 ? 0 : rtos.some((r) => r === null) ? null : Math.max(...(rtos as number[]));
  const recovered = rto !== null;
  const ok =
    recovered &&
    result.missing === 0 &&
    result.duplicates === 0 &&
    result.unexpectedLive === 0 &&
    (poison === undefined || (poison.quarantined === poison.published && poison.tickRows === 0)) &&
    (fleet === undefined || fleet.failures.length === 0);
  return {
    scenario: plan.scenario,
    seed: plan.seed,
    sent: result.sent,
    stored_unique: result.stored,
    missing: result.missing,
    duplicates_in_views: result.duplicates,
    per_stream_type: result.perStreamType,
    raw_duplicates: result.rawDuplicates,
    rto_ms: rto,
    rpo_ms: rpo.rpoMs,
    backfilled,
    max_rss_mb: ctx.rss.peakMb,
    rpo_live_span_ms: live.spanMs,
    missing_live: live.missingLive,
    gaps: rpo.gaps,
    gapfill_runs: settle.runs,
    settled: settle.settled,
    unexpected_live: result.unexpectedLive,
    ...(poison ? { poison } : {}),
    ...(fleet ? { fleet_failures: fleet.failures } : {}),
    faults: outcomes.map((o, i) => ({
      kind: o.kind,
      at_ms: o.start - phaseStart,
      length_ms: o.end - o.start,
      rto_ms: o.rtoMs,
      detail: o.detail,
      ...(fleet ? fleet.perFault[i] : {}),
    })),
    duration_s: Math.round((Date.now() - startedAt) / 1000),
    timings_s: timings,
    // Other work on the machine slows every service here (they share its cores): judge RTO with it.
    load_avg: { start: loadAtStart, end: Math.round(loadavg()[0]! * 10) / 10 },
    ok,
    workDir: stack.workDir,
  };
}
