import { mergeIntervals, type Interval } from '../shared/intervals.ts';

/**
 * A stream's recently committed coverage, kept in its checkpoint so the gap-filler can find holes
 * without re-reading the warehouse (decisions/0029). Invariant: every span is coverage whose rows and
 * coverage row were durable before it was merged here, so `spans` is a subset of the committed coverage
 * and every hole in it, from `since` on, is at least a hole in the warehouse's (never less).
 */
export interface CoveredSpans {
  /** Where this record begins: the earliest span start merged, raised by the retention cut. */
  readonly since: number;
  /** Merged (sorted, disjoint, non-touching) spans of committed coverage windows. */
  readonly spans: readonly Interval[];
}

/** Spans ending more than this before the write are dropped: past every gap-filler lookback (6 h by default). */
export const SPANS_RETENTION_MS = 24 * 3600_000;

/**
 * Most spans kept per stream: a steady stream has one, each hole adds one. Past this, the oldest are
 * dropped and `since` stays, so their time reads as a hole (refetched, never lost).
 */
export const MAX_SPANS = 64;

/**
 * Merges committed windows into a stream's spans. Union is order-independent and idempotent, so
 * redeliveries and writers racing on one document (each in a transaction) converge on the same record.
 */
export function mergeSpans(
  existing: CoveredSpans | undefined,
  added: readonly Interval[] | undefined,
  now: number,
): CoveredSpans | undefined {
  if (existing === undefined && (added === undefined || added.length === 0)) return undefined;
  const all = [...(existing?.spans ?? []), ...(added ?? [])];
  let since = Math.min(existing?.since ?? Infinity, ...(added ?? []).map((w) => w.from));
  const cutoff = now - SPANS_RETENTION_MS;
  let spans = mergeIntervals(all).filter((s) => s.to > cutoff);
  if (since < cutoff) since = cutoff;
  if (spans.length > MAX_SPANS) spans = spans.slice(spans.length - MAX_SPANS);
  return { since, spans };
}

/** The union of two records of one stream (its checkpoint read from both layouts). */
export function unionSpans(
  a: CoveredSpans | undefined,
  b: CoveredSpans | undefined,
): CoveredSpans | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return { since: Math.min(a.since, b.since), spans: mergeIntervals([...a.spans, ...b.spans]) };
}

/** The union of two pending advances' windows (the coalescer combines advances between writes). */
export function unionWindows(
  a: readonly Interval[] | undefined,
  b: readonly Interval[] | undefined,
): Interval[] | undefined {
  if (a === undefined && b === undefined) return undefined;
  return mergeIntervals([...(a ?? []), ...(b ?? [])]);
}

/**
 * What detection reads of the spans within `range`: the spans overlapping it, preceded, when the record
 * begins inside the range before its first span (older spans dropped by the count cap), by a 1 ms mark at
 * `since`, so the time between reads as a hole rather than as the start of recording.
 */
export function spansWithin(covered: CoveredSpans | undefined, range: Interval): Interval[] {
  if (covered === undefined) return [];
  const inside = covered.spans.filter((s) => s.to > range.from && s.from < range.to);
  const first = inside[0];
  const marked = covered.since > range.from && covered.since < range.to;
  if (marked && (first === undefined || covered.since < first.from))
    return [{ from: covered.since, to: covered.since + 1 }, ...inside];
  return inside;
}
