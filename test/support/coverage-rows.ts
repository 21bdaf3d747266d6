// Coverage table rows for tests that seed the warehouse: times are offsets (ms) from a test's own t0.
import type { StreamKey } from '../../functions/core/model/streams.ts';

/** A row maker for [t0 + from, t0 + to) of `stream`, as the writer (live) or gap-filler (backfill) commits it. */
export function coverageRows(t0: number) {
  const at = (ms: number) => new Date(t0 + ms).toISOString();
  return (s: StreamKey, batch: string, from: number, to: number, source: 'live' | 'backfill' = 'live') => ({
    batch_id: batch,
    exchange: s.exchange,
    symbol: s.symbol,
    data_type: s.type,
    window_from: at(from),
    window_to: at(to),
    rows: 1,
    source,
    committed_at: at(to),
  });
}
