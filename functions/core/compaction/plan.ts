/**
 * Which days one compaction run merges (decisions/0028): the days that settled since the published
 * boundary (at most `maxNewDays`, so catching up never reads unbounded history in one run), with them
 * the last `recheckDays` settled days again (late live copies), and on every run the settled days that
 * a recently filled gap wrote into. A pure function of what the run read.
 */
export const DAY_MS = 86_400_000;

export interface CompactionOptions {
  /** A day settles this long after it ends (batches in flight, the gap-filler's first attempts). */
  readonly settleMs: number;
  /** Settled days merged again whenever the boundary moves, for copies that land late. */
  readonly recheckDays: number;
  /** Gaps filled this long ago or less (or since the boundary, if older) send their day to a merge. */
  readonly fillLookbackMs: number;
  /** Most new days one run settles (the first run over existing history, or after an outage). */
  readonly maxNewDays: number;
}

export const DEFAULT_COMPACTION_OPTIONS: CompactionOptions = {
  settleMs: 6 * 3_600_000,
  recheckDays: 2,
  fillLookbackMs: 26 * 3_600_000,
  maxNewDays: 7,
};

export interface PlanInput {
  readonly now: number;
  /** The boundary the view publishes now; undefined: nothing compacted yet. */
  readonly settledBefore: number | undefined;
  /** Start of the first day holding data (asked only when nothing is compacted yet). */
  readonly firstDay: number | undefined;
  /** Start times of gaps filled since `fillsSince` (any day). */
  readonly filledGapStarts: readonly number[];
}

export interface CompactionPlan {
  /** Day starts to merge, ascending, each once. */
  readonly days: readonly number[];
  /** The boundary to publish once every day is merged (never before the current one; undefined: none yet). */
  readonly settledBefore: number | undefined;
}

export const dayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

export function planCompaction(input: PlanInput, options: CompactionOptions): CompactionPlan {
  const settledNow = dayStart(input.now - options.settleMs);
  // An empty table publishes nothing: a boundary over days never merged would hide rows backfilled there.
  if (input.settledBefore === undefined && input.firstDay === undefined)
    return { days: [], settledBefore: undefined };
  const from = input.settledBefore ?? dayStart(input.firstDay!);
  const target = Math.max(from, Math.min(settledNow, from + options.maxNewDays * DAY_MS));
  const days = new Set<number>();
  for (let day = from; day < target; day += DAY_MS) days.add(day);
  if (input.settledBefore !== undefined) {
    const recheckFrom = target > from ? Math.max(0, from - options.recheckDays * DAY_MS) : from;
    for (let day = recheckFrom; day < from; day += DAY_MS) days.add(day);
    for (const start of input.filledGapStarts) {
      const day = dayStart(start);
      if (day < from) days.add(day);
    }
  }
  return { days: [...days].sort((a, b) => a - b), settledBefore: target };
}

/** Since when filled gaps are looked for: the fill lookback, or the boundary when it is older. */
export const fillsSince = (now: number, settledBefore: number, options: CompactionOptions): number =>
  Math.min(now - options.fillLookbackMs, settledBefore);
