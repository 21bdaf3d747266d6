import { EXCHANGES } from '../model/exchanges.ts';
import type { StreamKey } from '../model/streams.ts';
import { holes, mergeIntervals, splitAligned, subtract, type Interval } from '../shared/intervals.ts';
import type { GapfillDeps } from './deps.ts';
import { newGap, type Gap, type GapDetector } from './gaps.ts';

/** Holes in committed coverage and in contiguous trade ids, minus gaps the ledger already has. */
export async function detect(deps: GapfillDeps, stream: StreamKey): Promise<Gap[]> {
  const { options, clock, gapQueries } = deps;
  const now = clock.now();
  const horizon = now - options.settleMs;
  const start = now - options.lookbackMs;
  if (horizon <= start) return [];

  const covered = mergeIntervals(await gapQueries.coverageWindows(stream, start, horizon));
  const found: { interval: Interval; by: GapDetector }[] = [];

  let first = covered[0]?.from;
  if (first === undefined) {
    // No coverage in the lookback: a stream that was recorded before (checkpoint) is dead since then.
    const checkpoint = await deps.checkpoints.get(stream);
    if (checkpoint && checkpoint.coveredTo > start && checkpoint.coveredTo < horizon)
      first = checkpoint.coveredTo;
  }
  if (first !== undefined) {
    for (const hole of holes(covered, { from: first, to: horizon })) {
      found.push({ interval: hole, by: hole.to === horizon ? 'stale_checkpoint' : 'coverage' });
    }
  }

  if (stream.type === 'trade' && EXCHANGES[stream.exchange]?.contiguousTradeIds) {
    for (const jump of await gapQueries.tradeIdJumps(stream, start, horizon))
      found.push({ interval: { from: jump.before, to: jump.after + 1 }, by: 'trade_ids' });
  }

  // Coverage holes first: a trade-id jump across a coverage hole is the same hole seen twice.
  const known: Interval[] = (await deps.ledger.list({ stream })).map((g) => ({ from: g.from, to: g.to }));
  const gaps: Gap[] = [];
  for (const { interval, by } of found) {
    // A trade-id jump across a coverage hole leaves slivers at the hole's edges that the hole's own
    // backfill (which reaches marginMs beyond both ends) already fetches.
    const margin = by === 'trade_ids' ? options.marginMs : 0;
    const exclude = known.map((k) => ({ from: k.from - margin, to: k.to + margin }));
    for (const piece of subtract([interval], exclude)) {
      for (const part of splitAligned(piece, options.maxGapMs))
        gaps.push(newGap(stream, part.from, part.to, by, now, options));
      known.push(piece);
    }
  }
  return gaps;
}
