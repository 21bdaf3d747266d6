// What a fleet run adds to a chaos result: per fault, the longest span of trades no live row holds and the
// rows backfilled within the fault's window (from its start to the next fault's), and the checks the
// issue sets for the fleet: no live hole (under 1 s) and nothing backfilled, except where every replica of
// a shard was lost (the gap-filler is the backstop there: the hole is recorded and backfilled).
import type { Stack } from '../local/stack.ts';
import type { ExpectedStream } from '../local/verify-mix.ts';
import type { FaultRecord } from './faults.ts';
import { isFleetFault } from './fleet-plan.ts';
import { backfilledBetween, liveMissingRuns } from './measure.ts';

/** A fleet fault's live hole must stay under this (RPO live). */
export const RPO_LIVE_LIMIT_MS = 1_000;

export interface FleetMeasures {
  readonly perFault: readonly { readonly rpoLiveSpanMs: number; readonly backfilled: number }[];
  readonly failures: readonly string[];
}

export async function fleetFaultMeasures(
  stack: Stack,
  records: readonly FaultRecord[],
  expected: readonly ExpectedStream[],
): Promise<FleetMeasures> {
  const runs = await liveMissingRuns(stack, expected);
  const perFault: { rpoLiveSpanMs: number; backfilled: number }[] = [];
  const failures: string[] = [];
  for (const [i, record] of records.entries()) {
    const from = record.start;
    const to = records[i + 1]?.start ?? Date.now();
    const inWindow = runs.filter((r) => r.toTs >= from && r.fromTs < to);
    const rpoLiveSpanMs = Math.max(0, ...inWindow.map((r) => r.toTs - r.fromTs));
    const backfilled = await backfilledBetween(stack, expected, from, to);
    perFault.push({ rpoLiveSpanMs, backfilled });
    if (!isFleetFault(record.kind) || record.kind === 'replicas-lost') continue;
    if (rpoLiveSpanMs >= RPO_LIVE_LIMIT_MS)
      failures.push(`${record.kind}: live hole of ${rpoLiveSpanMs} ms (${inWindow.length} runs)`);
    if (backfilled > 0) failures.push(`${record.kind}: ${backfilled} rows backfilled from history`);
  }
  return { perFault, failures };
}
