// What a fleet run adds to a chaos result: per fault, the longest span of trades no live row holds and the
// rows backfilled within the fault's window (faultWindows: from its start to the next fault's, a hole the
// next fault opened given to it, each stream's window ending at its last tick sent: the time after the
// frozen ground truth is the gap-filler's by design), and the checks the issue sets for the fleet: no live
// hole (under 1 s) and nothing backfilled, except where every replica of a shard was lost (the gap-filler
// is the backstop there: the hole is recorded and backfilled).
import { streamId } from '../../functions/core/model/streams.ts';
import type { Gap } from '../../functions/core/gapfill/gaps.ts';
import type { Interval } from '../../functions/core/shared/intervals.ts';
import type { Stack } from '../local/stack.ts';
import { expectedSpanTs, type ExpectedStream } from '../local/verify-mix.ts';
import type { FaultRecord } from './faults.ts';
import { isFleetFault } from './fleet-plan.ts';
import { backfilledSpan, historyRunStart, liveMissingRuns, type MissingRun } from './measure.ts';

/** A fleet fault's live hole must stay under this (RPO live). */
export const RPO_LIVE_LIMIT_MS = 1_000;

export interface FleetFaultMeasure {
  readonly rpo_live_span_ms: number;
  readonly backfilled: number;
  /** Where the backfilled rows lie, per stream, in ms from the fault's start (empty when none). */
  readonly backfilled_at: readonly { stream: string; rows: number; from_ms: number; to_ms: number }[];
  /** The runs of trades no live row holds, per stream, in ms from the fault's start (empty when none). */
  readonly live_holes: readonly { stream: string; trades: number; from_ms: number; to_ms: number }[];
}

export interface FleetMeasures {
  readonly perFault: readonly FleetFaultMeasure[];
  readonly failures: readonly string[];
}

export async function fleetFaultMeasures(
  stack: Stack,
  records: readonly FaultRecord[],
  expected: readonly ExpectedStream[],
): Promise<FleetMeasures> {
  const runs = await liveMissingRuns(stack, expected);
  const gaps = await stack.ledger.list();
  const holes = [...runs, ...(await historyRunsIntoNext(stack, records, expected, gaps))];
  const windows = faultWindows(records, expected, holes, gaps, (s) => expectedSpanTs(stack, s)?.to);
  const perFault: FleetFaultMeasure[] = [];
  const failures: string[] = [];
  for (const [i, record] of records.entries()) {
    const inWindow = runs.filter((r) => overlaps(windows[i]!.get(r.stream), r.fromTs, r.toTs + 1));
    const rpoLiveSpanMs = Math.max(0, ...inWindow.map((r) => r.toTs - r.fromTs));
    let backfilled = 0;
    const backfilledAt: FleetFaultMeasure['backfilled_at'][number][] = [];
    for (const stream of expected) {
      const window = windows[i]!.get(streamId(stream));
      if (window === undefined) continue;
      const span = await backfilledSpan(stack, stream, window.from, window.to);
      backfilled += span.rows;
      if (span.rows > 0)
        backfilledAt.push({
          stream: streamId(stream),
          rows: span.rows,
          from_ms: span.firstTs! - record.start,
          to_ms: span.lastTs! - record.start,
        });
    }
    const measure = {
      rpo_live_span_ms: rpoLiveSpanMs,
      backfilled,
      backfilled_at: backfilledAt,
      live_holes: inWindow.map((r) => ({
        stream: r.stream,
        trades: r.trades,
        from_ms: r.fromTs - record.start,
        to_ms: r.toTs - record.start,
      })),
    };
    perFault.push(measure);
    const recorded = gaps.filter((g) => overlaps(windows[i]!.get(streamId(g.stream)), g.from, g.to)).length;
    failures.push(...faultFailures(record, measure, inWindow.length, recorded));
  }
  return { perFault, failures };
}

/**
 * For each recorded gap open when a fault began that started after the fault before it ended, the run of
 * rows served from history leading into it (its first lost ticks were stamped before the relay's coverage
 * recorded the gap): holes with exchange-time starts, for streams without contiguous ids too.
 */
async function historyRunsIntoNext(
  stack: Stack,
  records: readonly FaultRecord[],
  expected: readonly ExpectedStream[],
  gaps: readonly Gap[],
): Promise<Pick<MissingRun, 'stream' | 'fromTs' | 'toTs'>[]> {
  const out: Pick<MissingRun, 'stream' | 'fromTs' | 'toTs'>[] = [];
  for (const [i, before] of records.slice(0, -1).entries()) {
    const nextStart = records[i + 1]!.start;
    for (const gap of gaps) {
      if (!leftOpenInto(gap, before, nextStart)) continue;
      const stream = expected.find((s) => streamId(s) === streamId(gap.stream));
      const from = stream && (await historyRunStart(stack, stream, before.end, gap.from));
      if (typeof from === 'number')
        out.push({ stream: streamId(gap.stream), fromTs: from, toTs: gap.to - 1 });
    }
  }
  return out;
}

function overlaps(window: Interval | undefined, from: number, to: number): boolean {
  return window !== undefined && from < window.to && to > window.from;
}

/**
 * Each fault's window per stream id: from its start to the next fault's start, the last one to the
 * stream's last tick sent (after the frozen ground truth the time is the gap-filler's by design). A hole
 * open when the next fault began that started only after this fault was over (the fleet whole again) is
 * the next fault's, ticks a killed relay had not yet published included: the boundary moves back, on
 * that stream, to where the hole (a run of trades no live row holds, or a recorded gap) starts.
 * Streams without a tick sent in a window have none.
 */
export function faultWindows(
  records: readonly Pick<FaultRecord, 'start' | 'end'>[],
  expected: readonly ExpectedStream[],
  runs: readonly Pick<MissingRun, 'stream' | 'fromTs' | 'toTs'>[],
  gaps: readonly Pick<Gap, 'stream' | 'from' | 'to'>[],
  lastSentTs: (stream: ExpectedStream) => number | undefined,
): Map<string, Interval>[] {
  const holes = [
    ...runs.map((r) => ({ stream: r.stream, from: r.fromTs, to: r.toTs + 1 })),
    ...gaps.map((g) => ({ stream: streamId(g.stream), from: g.from, to: g.to })),
  ];
  return records.map((record, i) => {
    const out = new Map<string, Interval>();
    for (const stream of expected) {
      const id = streamId(stream);
      const last = lastSentTs(stream);
      if (last === undefined) continue;
      const from = i === 0 ? record.start : boundary(records[i - 1]!, record.start, id, holes);
      const next = records[i + 1];
      const to = Math.min(next ? boundary(record, next.start, id, holes) : Infinity, last + 1);
      if (to > from) out.set(id, { from, to });
    }
    return out;
  });
}

/** Where `before`'s window ends on one stream: the next fault's start, or a hole it left open (see above). */
function boundary(
  before: Pick<FaultRecord, 'end'>,
  nextStart: number,
  stream: string,
  holes: readonly { stream: string; from: number; to: number }[],
): number {
  const open = holes.filter((h) => h.stream === stream && leftOpenInto(h, before, nextStart));
  return Math.min(nextStart, ...open.map((h) => h.from));
}

/** A hole that started after `before` was over and was still open when the next fault began at `nextStart`. */
function leftOpenInto(hole: Interval, before: Pick<FaultRecord, 'end'>, nextStart: number): boolean {
  return hole.from > before.end && hole.from < nextStart && hole.to > nextStart;
}

/** The checks of one fleet fault (none for the single-relay faults). */
function faultFailures(
  record: FaultRecord,
  measure: FleetFaultMeasure,
  holes: number,
  gapsRecorded: number,
): string[] {
  const kind = record.kind;
  if (!isFleetFault(kind)) return [];
  const out: string[] = [];
  if (kind === 'replicas-lost') {
    // The backstop: a hole every replica left must be in the ledger and served from history.
    if (measure.rpo_live_span_ms > 0 && gapsRecorded === 0)
      out.push(`${kind}: live hole but no gap recorded`);
    if (measure.rpo_live_span_ms > 0 && measure.backfilled === 0)
      out.push(`${kind}: live hole not backfilled`);
    return out;
  }
  if (measure.rpo_live_span_ms >= RPO_LIVE_LIMIT_MS)
    out.push(`${kind}: live hole of ${measure.rpo_live_span_ms} ms (${holes} runs)`);
  if (measure.backfilled > 0) out.push(`${kind}: ${measure.backfilled} rows backfilled from history`);
  if ((kind === 'primary-kill' || kind === 'primary-pause') && record.detail.takeoverMs === null)
    out.push(`${kind}: no standby took the shards over`);
  if ((kind === 'scale-out' || kind === 'scale-in') && record.detail.joined !== true)
    out.push(
      `${kind}: member ${String(record.detail.member)} never ${kind === 'scale-out' ? 'joined' : 'left'}`,
    );
  if (kind === 'primary-pause' && !(Number(record.detail.stepDowns) > 0))
    out.push(`${kind}: the paused primary did not step down after resuming`);
  return out;
}
