import { exchangeDescriptor } from '../exchanges/index.ts';
import { streamId, type StreamKey } from '../model/streams.ts';
import type { TradeIdJump } from '../ports.ts';
import { holes, mergeIntervals, splitAligned, subtract, type Interval } from '../shared/intervals.ts';
import type { GapfillDeps } from './deps.ts';
import { newGap, type FillTiming, type Gap, type GapDetector } from './gaps.ts';
import type { GapfillOptions } from './options.ts';

/** A hole in one stream's record and the check that found it. */
export interface Finding {
  readonly interval: Interval;
  readonly by: GapDetector;
}

/** What detection read of one stream: its committed coverage windows and its trade-id jumps. */
interface StreamRecord {
  readonly windows: readonly Interval[];
  readonly jumps: readonly TradeIdJump[];
}

/**
 * Holes in committed coverage and in contiguous trade ids of every stream, minus gaps the ledger
 * already has. The warehouse is read once for all streams (one query per kind), not per stream.
 */
export async function detect(deps: GapfillDeps, streams: readonly StreamKey[]): Promise<Gap[]> {
  const { options, clock, gapQueries } = deps;
  const now = clock.now();
  const horizon = now - options.settleMs;
  const start = now - options.lookbackMs;
  if (horizon <= start || streams.length === 0) return [];

  const range = { from: start, to: horizon };
  const coverage = await gapQueries.coverageWindows(streams, range);
  const traded = streams.filter(
    (s) => s.type === 'trade' && exchangeDescriptor(s.exchange)?.contiguousTradeIds,
  );
  const jumps =
    traded.length > 0 ? await gapQueries.tradeIdJumps(traded, range) : new Map<string, TradeIdJump[]>();
  const gaps: Gap[] = [];
  for (const stream of streams) {
    const id = streamId(stream);
    const record = { windows: coverage.get(id) ?? [], jumps: jumps.get(id) ?? [] };
    gaps.push(...(await detectStream(deps, stream, record, { now, start, horizon })));
  }
  return gaps;
}

/** One stream's gaps from what detection read of it. */
async function detectStream(
  deps: GapfillDeps,
  stream: StreamKey,
  record: StreamRecord,
  at: { now: number; start: number; horizon: number },
): Promise<Gap[]> {
  const { now, start, horizon } = at;
  const covered = mergeIntervals(record.windows);
  let first = covered[0]?.from;
  if (first === undefined) {
    // No coverage in the lookback: a stream that was recorded before (checkpoint) is dead since then.
    const checkpoint = await deps.checkpoints.get(stream);
    if (checkpoint && checkpoint.coveredTo > start && checkpoint.coveredTo < horizon)
      first = checkpoint.coveredTo;
  }
  const found = first === undefined ? [] : coverageHoles(covered, first, horizon);
  for (const jump of record.jumps)
    found.push({ interval: { from: jump.before, to: jump.after + 1 }, by: 'trade_ids' });

  const known = (await deps.ledger.list({ stream })).map((g) => ({ from: g.from, to: g.to }));
  return gapsToRecord(found, known, stream, now, deps.options);
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
