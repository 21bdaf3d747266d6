// What the status page shows, assembled from what was read (no I/O here): per stream a timeline of live
// coverage, backfilled coverage and unresolved gaps, freshness, the gap ledger and quarantine counts.
// This object is the page's data and the JSON of /api/status.
import type { Checkpoint } from '../../../functions/core/ports.ts';
import type { Gap, GapState } from '../../../functions/core/gapfill/gaps.ts';
import { streamId, type StreamKey } from '../../../functions/core/model/streams.ts';
import {
  mergeIntervals,
  subtract,
  totalLength,
  type Interval,
} from '../../../functions/core/shared/intervals.ts';
import { GAP_STATES } from '../env.ts';
import { iso } from '../format.ts';
import { gapJson } from '../ledger.ts';
import type { CoverageInterval, QuarantineGroup } from './queries.ts';

/** Gap rows listed per stream; the counts still include every gap read. */
export const MAX_GAPS_PER_STREAM = 50;

/** What a source failed with; the rest of the snapshot still shows what the other sources said. */
export interface SourceError {
  readonly source: 'coverage' | 'quarantine' | 'gaps' | 'checkpoints';
  readonly message: string;
}

/** What each read returned, or undefined when it failed (its error is in `errors`). */
export interface StatusInputs {
  readonly now: number;
  readonly range: Interval;
  readonly refreshMs: number;
  readonly deployment: Readonly<Record<string, string>>;
  readonly streams: readonly StreamKey[];
  readonly coverage: { rows: readonly CoverageInterval[]; truncated: boolean } | undefined;
  readonly quarantine: { rows: readonly QuarantineGroup[]; truncated: boolean } | undefined;
  readonly gaps: { rows: readonly Gap[]; truncated: boolean } | undefined;
  readonly checkpoints: readonly Checkpoint[] | undefined;
  readonly errors: readonly SourceError[];
}

export interface Span {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface StreamStatus {
  readonly stream: string;
  readonly timeline: {
    readonly live: Span[];
    readonly backfill: Span[];
    /** Gaps in the ledger not (yet) filled, clipped to the range. */
    readonly unresolved: (Span & { readonly state: GapState; readonly id: string })[];
  };
  /**
   * Time of the range covered live, backfilled and not also live (so the three add up to the range, as
   * the timeline draws them), and with no coverage at all; null when coverage could not be read.
   */
  readonly coveredMs: { readonly live: number; readonly backfill: number } | null;
  readonly uncoveredMs: number | null;
  readonly freshness: {
    /** End of the newest committed live coverage (the coverage table; the checkpoint when none is in range). */
    readonly coveredTo: string | null;
    readonly coveredToMs: number | null;
    readonly lagMs: number | null;
    readonly from: 'coverage' | 'checkpoint' | null;
  };
  readonly checkpoint: Record<string, unknown> | null;
  readonly gapCounts: Record<GapState, number>;
  readonly gaps: Record<string, unknown>[];
  readonly gapsNotListed: number;
  readonly quarantine: { reason: string; count: number; lastAt: string | null }[];
}

export interface StatusSnapshot {
  readonly generatedAt: string;
  readonly generatedAtMs: number;
  readonly range: {
    readonly from: string;
    readonly to: string;
    readonly fromMs: number;
    readonly toMs: number;
  };
  readonly refreshMs: number;
  readonly deployment: Readonly<Record<string, string>>;
  readonly streams: StreamStatus[];
  /** Quarantined input that named no stream (an undecodable header) or one not in RELAY_STREAMS. */
  readonly quarantineOther: { stream: string | null; reason: string; count: number; lastAt: string | null }[];
  readonly truncated: { readonly coverage: boolean; readonly gaps: boolean; readonly quarantine: boolean };
  readonly errors: readonly SourceError[];
}

export function buildSnapshot(input: StatusInputs): StatusSnapshot {
  const { range } = input;
  const configured = new Set(input.streams.map(streamId));
  return {
    generatedAt: iso(input.now)!,
    generatedAtMs: input.now,
    range: { from: iso(range.from)!, to: iso(range.to)!, fromMs: range.from, toMs: range.to },
    refreshMs: input.refreshMs,
    deployment: input.deployment,
    streams: input.streams.map((s) => streamStatus(streamId(s), input)),
    quarantineOther: (input.quarantine?.rows ?? [])
      .filter((q) => q.stream === null || !configured.has(q.stream))
      .map((q) => ({ stream: q.stream, ...quarantineCount(q) })),
    truncated: {
      coverage: input.coverage?.truncated ?? false,
      gaps: input.gaps?.truncated ?? false,
      quarantine: input.quarantine?.truncated ?? false,
    },
    errors: input.errors,
  };
}

function streamStatus(id: string, input: StatusInputs): StreamStatus {
  const { range, now } = input;
  const coverage = (input.coverage?.rows ?? []).filter((c) => c.stream === id);
  const of = (source: 'live' | 'backfill') =>
    mergeIntervals(coverage.filter((c) => c.source === source).map((c) => clip(c, range)));
  const live = of('live');
  const backfill = of('backfill');
  const gaps = (input.gaps?.rows ?? []).filter((g) => streamId(g.stream) === id).sort((a, b) => b.to - a.to);
  const unresolved = gaps
    .filter((g) => g.state !== 'filled' && g.to > range.from && g.from < range.to)
    .map((g) => ({ ...span(clip(g, range)), state: g.state, id: g.id }));
  const newestLive = Math.max(-Infinity, ...coverage.filter((c) => c.source === 'live').map((c) => c.to));
  const checkpoint = input.checkpoints?.find((c) => streamId(c.stream) === id);
  const coveredToMs = Number.isFinite(newestLive) ? newestLive : (checkpoint?.coveredTo ?? null);
  return {
    stream: id,
    timeline: { live: live.map(span), backfill: backfill.map(span), unresolved },
    coveredMs: input.coverage
      ? { live: totalLength(live), backfill: totalLength(subtract(backfill, live)) }
      : null,
    uncoveredMs: input.coverage
      ? range.to - range.from - totalLength(mergeIntervals([...live, ...backfill]))
      : null,
    freshness: {
      coveredTo: iso(coveredToMs),
      coveredToMs,
      lagMs: coveredToMs === null ? null : now - coveredToMs,
      from: Number.isFinite(newestLive) ? 'coverage' : checkpoint ? 'checkpoint' : null,
    },
    checkpoint: checkpoint
      ? {
          coveredTo: iso(checkpoint.coveredTo),
          lastTickTs: checkpoint.lastTickTs ? iso(checkpoint.lastTickTs / 1000) : null,
          lastTradeId: checkpoint.lastTradeId,
          committedRows: checkpoint.committedRows,
          lastBatchId: checkpoint.lastBatchId,
          updatedAt: iso(checkpoint.updatedAt),
        }
      : null,
    gapCounts: Object.fromEntries(
      GAP_STATES.map((s) => [s, gaps.filter((g) => g.state === s).length]),
    ) as Record<GapState, number>,
    gaps: gaps.slice(0, MAX_GAPS_PER_STREAM).map(gapJson),
    gapsNotListed: Math.max(0, gaps.length - MAX_GAPS_PER_STREAM),
    quarantine: (input.quarantine?.rows ?? []).filter((q) => q.stream === id).map(quarantineCount),
  };
}

function quarantineCount(q: QuarantineGroup) {
  return { reason: q.reason, count: q.count, lastAt: iso(q.lastAt) };
}

function clip(i: Interval, range: Interval): Interval {
  return { from: Math.max(i.from, range.from), to: Math.min(i.to, range.to) };
}

function span(i: Interval): Span {
  return { fromMs: i.from, toMs: i.to };
}
