import { EXCHANGES } from '../model/exchanges.ts';
import type { StreamKey } from '../model/streams.ts';
import { holes, mergeIntervals, splitAligned, subtract, type Interval } from '../shared/intervals.ts';
import type { GapfillDeps } from './deps.ts';
import { newGap, type Gap, type GapDetector } from './gaps.ts';

/** Holes in committed coverage and in contiguous trade ids, minus gaps the ledger already has. */
export async function detect(deps: GapfillDeps, stream: StreamKey): Promise<Gap[]> {
  const { options, clock, warehouse } = deps;
  const now = clock.now();
  const horizon = now - options.settleMs;
  const start = now - options.lookbackMs;
  if (horizon <= start) return [];
  const table = (name: string) => `\`${options.projectId}.${options.dataset}.${name}\``;
  const params = { exchange: stream.exchange, symbol: stream.symbol, type: stream.type };

  const coverage = await warehouse.query<{ f: number; t: number }>(
    `SELECT UNIX_MILLIS(window_from) AS f, UNIX_MILLIS(window_to) AS t FROM ${table('coverage_dedup')} ` +
      `WHERE exchange = @exchange AND symbol = @symbol AND data_type = @type ` +
      `AND window_to > @start AND window_from < @horizon ORDER BY f`,
    { ...params, start: new Date(start), horizon: new Date(horizon) },
  );
  const covered = mergeIntervals(coverage.map((c) => ({ from: Number(c.f), to: Number(c.t) })));
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
    const jumps = await warehouse.query<{ pf: number; pt: number }>(
      `SELECT UNIX_MILLIS(prev_ts) AS pf, UNIX_MILLIS(ts) AS pt FROM (` +
        `SELECT CAST(trade_id AS INT64) AS id, local_ts AS ts, ` +
        `LAG(CAST(trade_id AS INT64)) OVER (ORDER BY CAST(trade_id AS INT64)) AS prev_id, ` +
        `LAG(local_ts) OVER (ORDER BY CAST(trade_id AS INT64)) AS prev_ts ` +
        `FROM ${table('trades_dedup')} WHERE exchange = @exchange AND symbol = @symbol ` +
        `AND local_ts >= @start AND local_ts < @horizon) WHERE id - prev_id > 1`,
      {
        exchange: stream.exchange,
        symbol: stream.symbol,
        start: new Date(start),
        horizon: new Date(horizon),
      },
    );
    for (const j of jumps)
      found.push({ interval: { from: Number(j.pf), to: Number(j.pt) + 1 }, by: 'trade_ids' });
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
