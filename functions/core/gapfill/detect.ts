import { exchangeDescriptor } from '../exchanges/index.ts';
import type { StreamKey } from '../model/streams.ts';
import { holes, mergeIntervals, splitAligned, subtract, type Interval } from '../shared/intervals.ts';
import type { GapfillDeps } from './deps.ts';
import { newGap, type FillTiming, type Gap, type GapDetector } from './gaps.ts';
import type { GapfillOptions } from './options.ts';

/** A hole in one stream's record and the check that found it. */
export interface Finding {
  readonly interval: Interval;
  readonly by: GapDetector;
}

/** Holes in committed coverage and in contiguous trade ids, minus gaps the ledger already has. */
export async function detect(deps: GapfillDeps, stream: StreamKey): Promise<Gap[]> {
  const { options, clock, gapQueries } = deps;
  const now = clock.now();
  const horizon = now - options.settleMs;
  const start = now - options.lookbackMs;
  if (horizon <= start) return [];

  const covered = mergeIntervals(await gapQueries.coverageWindows(stream, start, horizon));
  let first = covered[0]?.from;
  if (first === undefined) {
    // No coverage in the lookback: a stream that was recorded before (checkpoint) is dead since then.
    const checkpoint = await deps.checkpoints.get(stream);
    if (checkpoint && checkpoint.coveredTo > start && checkpoint.coveredTo < horizon)
      first = checkpoint.coveredTo;
  }
  const found = first === undefined ? [] : coverageHoles(covered, first, horizon);

  if (stream.type === 'trade' && exchangeDescriptor(stream.exchange)?.contiguousTradeIds) {
    for (const jump of await gapQueries.tradeIdJumps(stream, start, horizon))
      found.push({ interval: { from: jump.before, to: jump.after + 1 }, by: 'trade_ids' });
  }

  const known = (await deps.ledger.list({ stream })).map((g) => ({ from: g.from, to: g.to }));
  return gapsToRecord(found, known, stream, now, options);
}

/**
 * The holes in merged coverage between `first` (where recording began) and the horizon; a hole that
 * reaches the horizon means the stream stopped being recorded (a stale checkpoint).
 */
export function coverageHoles(covered: readonly Interval[], first: number, horizon: number): Finding[] {
  return holes(covered, { from: first, to: horizon }).map((hole) => ({
    interval: hole,
    by: hole.to === horizon ? 'stale_checkpoint' : 'coverage',
  }));
}

/**
 * The gaps to record for `found` (coverage holes first), minus the `known` gaps and what earlier
 * findings already cover, each in pieces of at most maxGapMs aligned to it.
 */
export function gapsToRecord(
  found: readonly Finding[],
  known: readonly Interval[],
  stream: StreamKey,
  now: number,
  options: Pick<GapfillOptions, 'marginMs' | 'maxGapMs'> & FillTiming,
): Gap[] {
  // Coverage holes first: a trade-id jump across a coverage hole is the same hole seen twice.
  const seen: Interval[] = [...known];
  const gaps: Gap[] = [];
  for (const { interval, by } of found) {
    // A trade-id jump across a coverage hole leaves slivers at the hole's edges that the hole's own
    // backfill (which reaches marginMs beyond both ends) already fetches.
    const margin = by === 'trade_ids' ? options.marginMs : 0;
    const exclude = seen.map((k) => ({ from: k.from - margin, to: k.to + margin }));
    for (const piece of subtract([interval], exclude)) {
      for (const part of splitAligned(piece, options.maxGapMs))
        gaps.push(newGap(stream, part.from, part.to, by, now, options));
      seen.push(piece);
    }
  }
  return gaps;
}
