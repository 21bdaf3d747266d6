// What a fleet run adds to a chaos result: per fault, the longest span of trades no live row holds and the
// rows backfilled within the fault's window (from its start to the next fault's, each stream's window
// ending at its last tick sent: the time after the frozen ground truth is the gap-filler's by design), and
// the checks the issue sets for the fleet: no live hole (under 1 s) and nothing backfilled, except where
// every replica of a shard was lost (the gap-filler is the backstop there: the hole is recorded and
// backfilled).
import type { Stack } from '../local/stack.ts';
import { expectedSpanTs, type ExpectedStream } from '../local/verify-mix.ts';
import type { FaultRecord } from './faults.ts';
import { isFleetFault } from './fleet-plan.ts';
import { backfilledBetween, liveMissingRuns } from './measure.ts';

/** A fleet fault's live hole must stay under this (RPO live). */
export const RPO_LIVE_LIMIT_MS = 1_000;

export interface FleetFaultMeasure {
  readonly rpo_live_span_ms: number;
  readonly backfilled: number;
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
  const truthEnd = Math.max(0, ...expected.map((s) => expectedSpanTs(stack, s)?.to ?? 0)) + 1;
  const perFault: FleetFaultMeasure[] = [];
  const failures: string[] = [];
  for (const [i, record] of records.entries()) {
    const from = record.start;
    const to = records[i + 1]?.start ?? Number.POSITIVE_INFINITY;
    const inWindow = runs.filter((r) => r.toTs >= from && r.fromTs < to);
    const rpoLiveSpanMs = Math.max(0, ...inWindow.map((r) => r.toTs - r.fromTs));
    let backfilled = 0;
    for (const stream of expected) {
      const last = expectedSpanTs(stack, stream)?.to;
      const end = Math.min(to, last === undefined ? from : last + 1);
      if (end > from) backfilled += await backfilledBetween(stack, [stream], from, end);
    }
    const measure = { rpo_live_span_ms: rpoLiveSpanMs, backfilled };
    perFault.push(measure);
    const recorded = gaps.filter((g) => g.from < Math.min(to, truthEnd) && g.to > from).length;
    failures.push(...faultFailures(record, measure, inWindow.length, recorded));
  }
  return { perFault, failures };
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
