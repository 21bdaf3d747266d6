import type { StreamStatus } from './stream-registry.ts';

export interface HealthOptions {
  /** A stream whose newest acknowledged coverage is older than this makes the relay unhealthy. */
  readonly staleAfterMs: number;
}

export interface StreamHealth extends StreamStatus {
  /** now - end of the newest acknowledged window (or - process start, before the first). */
  readonly coverageLagMs: number;
  /** now - receive time of the newest tick, or null before the first. */
  readonly freshnessLagMs: number | null;
  readonly stale: boolean;
}

export interface HealthReport {
  /** Every stream's subscription has been proven by data, and the relay is not shutting down. */
  readonly ready: boolean;
  /** Every stream is recorded (acknowledged coverage) up to within `staleAfterMs` of now. */
  readonly healthy: boolean;
  /** Why not ready or not healthy, one line per cause. */
  readonly reasons: readonly string[];
  readonly streams: readonly StreamHealth[];
}

/**
 * Readiness and liveness of a relay from its stream status. Staleness is measured on acknowledged
 * coverage, so it catches every way recording stops: a lost or silent exchange socket (windows are
 * capped at the last message received), an unreachable Pub/Sub (nothing acknowledged) or a stuck loop.
 */
export function evaluateHealth(
  streams: readonly StreamStatus[],
  context: { readonly now: number; readonly startedAt: number; readonly stopping: boolean },
  options: HealthOptions,
): HealthReport {
  const { now, startedAt, stopping } = context;
  const reasons: string[] = [];
  if (stopping) reasons.push('shutting down');
  const health = streams.map((s): StreamHealth => {
    const coverageLagMs = now - (s.coveredTo ?? startedAt);
    const stale = coverageLagMs > options.staleAfterMs;
    if (!s.subscribed) reasons.push(`${s.stream}: not subscribed yet (no data since start)`);
    if (stale) reasons.push(`${s.stream}: recorded only up to ${coverageLagMs} ms ago`);
    return {
      ...s,
      coverageLagMs,
      freshnessLagMs: s.lastTickAt === null ? null : now - s.lastTickAt,
      stale,
    };
  });
  return {
    ready: !stopping && health.every((s) => s.subscribed),
    healthy: health.every((s) => !s.stale),
    reasons,
    streams: health,
  };
}
