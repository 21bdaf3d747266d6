// The status line `npm start` prints every few seconds while the pipeline runs: the relay, then per
// exchange and data type what came in, what the dedup views hold and how fresh it is, then the gaps;
// with a fleet, its members, shards per member and each shard's primary (read as `ops fleet` reads them).
import type { Stack } from '../local/stack.ts';
import { fleetStatus, relaysHealth } from './fleet-status.ts';
import type { Say } from './args.ts';
import { viewCounts } from './view-counts.ts';

export interface Health {
  ready: boolean;
  healthy: boolean;
  reasons: string[];
  counters: { ticksIn: number; ticksPublished: number; disconnects: number };
  streams?: { exchange: string; stream: string; ticksIn: number }[];
}

/** Returns a function that prints one status line. */
export function statusReporter(stack: Stack, say: Say, startedAt: number): () => Promise<void> {
  let last = { at: Date.now(), rows: 0, ticksIn: 0 };
  return async () => {
    const health: Health = await relaysHealth(stack);
    // Per `exchange:type`: ticks the relay took in, rows in the dedup view, the slowest symbol's lag.
    const perType: Record<string, { ticksIn: number; stored: number; lagMs: number | null }> = {};
    for (const c of await viewCounts(stack)) {
      perType[`${c.exchange}:${c.type}`] = { ticksIn: 0, stored: c.stored, lagMs: c.lagMs };
    }
    for (const s of health.streams ?? []) {
      const [exchange, , type] = s.stream.split(':');
      const entry = perType[`${exchange}:${type}`];
      if (entry !== undefined) entry.ticksIn += s.ticksIn;
    }
    const rows = Object.values(perType).reduce((n, e) => n + e.stored, 0);
    const gaps = await stack.ledger.list();
    const now = Date.now();
    const per = (n: number, prev: number) => Math.round(((n - prev) * 1000) / Math.max(1, now - last.at));
    say('status', {
      elapsedS: Math.round((now - startedAt) / 1000),
      relay: !health.ready ? 'not ready' : health.healthy ? 'healthy' : 'unhealthy',
      ...(stack.fleet ? { fleet: await fleetStatus(stack) } : {}),
      ticksPerS: per(health.counters.ticksIn, last.ticksIn),
      ticksIn: health.counters.ticksIn,
      stored: rows,
      rowsPerS: per(rows, last.rows),
      perStreamType: perType,
      disconnects: health.counters.disconnects,
      openGaps: gaps.filter((g) => g.state !== 'filled').length,
      rowsBackfilled: gaps.reduce((n, g) => n + g.rowsBackfilled, 0),
      ...(health.ready && health.healthy ? {} : { why: health.reasons.join('; ') }),
    });
    last = { at: now, rows, ticksIn: health.counters.ticksIn };
  };
}
