/** A half-open interval [from, to) of milliseconds. */
export interface Interval {
  readonly from: number;
  readonly to: number;
}

/** Sorts and merges overlapping or touching intervals; drops empty ones. */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from || a.to - b.to);
  const out: Interval[] = [];
  for (const next of sorted) {
    const last = out[out.length - 1];
    if (last && next.from <= last.to)
      out[out.length - 1] = { from: last.from, to: Math.max(last.to, next.to) };
    else out.push({ from: next.from, to: next.to });
  }
  return out;
}

/** The parts of `within` not covered by any of `covered`. */
export function holes(covered: readonly Interval[], within: Interval): Interval[] {
  const out: Interval[] = [];
  let cursor = within.from;
  for (const c of mergeIntervals(covered)) {
    if (c.to <= cursor) continue;
    if (c.from >= within.to) break;
    if (c.from > cursor) out.push({ from: cursor, to: Math.min(c.from, within.to) });
    cursor = Math.max(cursor, c.to);
    if (cursor >= within.to) break;
  }
  if (cursor < within.to) out.push({ from: cursor, to: within.to });
  return out;
}

/** `intervals` minus every interval in `remove`. */
export function subtract(intervals: readonly Interval[], remove: readonly Interval[]): Interval[] {
  return mergeIntervals(intervals).flatMap((i) => holes(remove, i));
}

/** Splits an interval into pieces of at most `size` ms aligned to multiples of `size`. */
export function splitAligned(interval: Interval, size: number): Interval[] {
  const out: Interval[] = [];
  let from = interval.from;
  while (from < interval.to) {
    const to = Math.min(interval.to, (Math.floor(from / size) + 1) * size);
    out.push({ from, to });
    from = to;
  }
  return out;
}

export function totalLength(intervals: readonly Interval[]): number {
  return intervals.reduce((n, i) => n + Math.max(0, i.to - i.from), 0);
}
