import type {
  CheckpointStore,
  Clock,
  GapLedger,
  HistorySource,
  LeaseStore,
  Logger,
  Warehouse,
  WarehouseRow,
} from '../ports.ts';
import {
  insertDurably,
  TransientInsertError,
  type DurableInsertOptions,
  type InsertSink,
} from '../shared/durable-insert.ts';
import { EXCHANGES } from '../exchanges/index.ts';
import { fillableAt, newGap, type Gap, type GapDetector, type GapState } from './gaps.ts';
import { HistoryError } from './history.ts';
import { holes, mergeIntervals, splitAligned, subtract, type Interval } from '../shared/intervals.ts';
import { backoffMs } from '../shared/retry.ts';
import { rowId } from '../model/row-id.ts';
import { coverageRowFor, tickToRow } from '../contract/rows.ts';
import { TABLE_FOR_TYPE } from '../contract/schema.ts';
import { streamId, type StreamKey } from '../model/streams.ts';
import { invalidReason } from '../model/validate.ts';

export interface GapfillOptions {
  readonly projectId: string;
  readonly dataset: string;
  /** The streams that should be recorded (the relay's configuration). */
  readonly streams: readonly StreamKey[];
  /** How far back detection looks. */
  readonly lookbackMs: number;
  /** Batches still in flight are not holes: only time older than now - settleMs is judged. */
  readonly settleMs: number;
  /** History is complete only this long after the fact (Tardis publishes with a delay of minutes). */
  readonly availabilityDelayMs: number;
  /** Backfill this much beyond each end of a gap (clock differences between relay and recorder). */
  readonly marginMs: number;
  /** Longer holes are recorded as several gaps of at most this length, aligned to it. */
  readonly maxGapMs: number;
  /** Give up a fill attempt after this long (tardis-dev retries some errors for minutes on its own). */
  readonly attemptTimeoutMs: number;
  /** After this many failed attempts a gap is `unfillable`. */
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Wait after the API key was refused before trying again. */
  readonly unauthorizedBackoffMs: number;
  /** Stop starting new fills after this long into a run (the Scheduler's attempt deadline is longer). */
  readonly runBudgetMs: number;
  readonly leaseName: string;
  readonly leaseTtlMs: number;
  readonly insertAttempts: number;
}

export const DEFAULT_GAPFILL_OPTIONS = {
  lookbackMs: 6 * 3600_000,
  settleMs: 20_000,
  availabilityDelayMs: 5 * 60_000,
  marginMs: 2_000,
  maxGapMs: 15 * 60_000,
  attemptTimeoutMs: 120_000,
  maxAttempts: 10,
  retryBaseMs: 30_000,
  retryMaxMs: 30 * 60_000,
  unauthorizedBackoffMs: 15 * 60_000,
  runBudgetMs: 240_000,
  leaseName: 'gapfill',
  leaseTtlMs: 300_000,
  insertAttempts: 4,
} as const;

export interface GapfillDeps {
  readonly warehouse: Warehouse;
  readonly ledger: GapLedger;
  readonly leases: LeaseStore;
  readonly history: HistorySource;
  readonly checkpoints: CheckpointStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Unique per run, e.g. instance + random: the lease holder. */
  readonly holder: string;
  readonly options: GapfillOptions;
}

export interface GapfillRun {
  readonly leased: boolean;
  readonly detected: number;
  readonly filled: number;
  readonly failed: number;
  readonly unfillable: number;
  readonly rowsBackfilled: number;
  readonly openAfter: number;
  readonly durationMs: number;
}

const RETRYABLE: readonly GapState[] = ['open', 'failed'];
const KEY_REFUSED = 'history API refused the key';

/**
 * One gap-filler run: take the lease, detect holes per stream, record them in the ledger, fill every
 * fillable gap from history through the same row shaping and row ids as the writer, commit coverage
 * for the gap, and mirror each state change into the warehouse's `gaps` table.
 */
export async function runGapfill(deps: GapfillDeps): Promise<GapfillRun> {
  const { options, clock, logger, leases } = deps;
  const startedAt = clock.now();
  const run = { detected: 0, filled: 0, failed: 0, unfillable: 0, rowsBackfilled: 0 };
  if (!(await leases.acquire(options.leaseName, deps.holder, options.leaseTtlMs))) {
    logger.log('INFO', 'another gap-filler run holds the lease; skipping', { holder: deps.holder });
    return { leased: false, ...run, openAfter: 0, durationMs: clock.now() - startedAt };
  }
  try {
    await recoverInterrupted(deps);
    for (const stream of options.streams) {
      const found = await detect(deps, stream);
      for (const gap of found) {
        if (await deps.ledger.record(gap)) {
          run.detected++;
          await mirror(deps, gap);
          logger.log('NOTICE', 'gap detected', gapFields(gap));
        }
      }
    }
    await fillAll(deps, run, startedAt);
    const open = await deps.ledger.list({ states: ['open', 'failed', 'filling'] });
    await reportAges(deps, open);
    return { leased: true, ...run, openAfter: open.length, durationMs: clock.now() - startedAt };
  } finally {
    await leases.release(options.leaseName, deps.holder).catch((error: unknown) => {
      logger.log('WARNING', 'lease release failed; it will expire', { error });
    });
  }
}

/** A gap left `filling` by a run that died is retried: we hold the lease, so nobody else is filling it. */
async function recoverInterrupted({ ledger, clock, logger, ...deps }: GapfillDeps): Promise<void> {
  for (const gap of await ledger.list({ states: ['filling'] })) {
    const next: Gap = {
      ...gap,
      state: 'failed',
      reason: 'interrupted run',
      nextAttemptAt: clock.now(),
      updatedAt: clock.now(),
    };
    if (await ledger.transition(gap.id, 'filling', next)) {
      logger.log('WARNING', 'gap left filling by an interrupted run; will retry', gapFields(gap));
      await mirror({ ledger, clock, logger, ...deps }, next);
    }
  }
}

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

async function fillAll(
  deps: GapfillDeps,
  run: { filled: number; failed: number; unfillable: number; rowsBackfilled: number },
  startedAt: number,
): Promise<void> {
  const { ledger, clock, options, logger } = deps;
  const retryable = await ledger.list({ states: RETRYABLE });
  // While a refused key's backoff runs, no gap is tried: one 401 per backoff period, not one per gap.
  const refused = retryable.find((g) => g.reason?.startsWith(KEY_REFUSED) && g.nextAttemptAt > clock.now());
  if (refused) {
    logger.log('ERROR', 'fills paused: the history API refused the API key; check TARDIS_API_KEY', {
      nextAttemptAt: new Date(refused.nextAttemptAt).toISOString(),
      gapId: refused.id,
    });
    return;
  }
  const candidates = retryable
    .filter((g) => g.nextAttemptAt <= clock.now() && dueAt(g, options) <= clock.now())
    .sort((a, b) => a.from - b.from);
  for (const gap of candidates) {
    if (clock.now() - startedAt > options.runBudgetMs) {
      logger.log('NOTICE', 'run budget spent; remaining gaps wait for the next run', {
        remaining: candidates.length,
      });
      return;
    }
    const outcome = await fillOne(deps, gap);
    if (outcome === 'filled') run.filled++;
    else if (outcome === 'unfillable') run.unfillable++;
    else run.failed++;
    if (outcome === 'filled') run.rowsBackfilled += (await ledger.get(gap.id))?.rowsBackfilled ?? 0;
    // A refused API key refuses every gap: one clear error per run, no retry storm.
    if (outcome === 'unauthorized') return;
  }
}

type FillOutcome = 'filled' | 'failed' | 'unfillable' | 'unauthorized' | 'skipped';

/** When a gap may be filled: as recorded at detection, else from its end (gaps the relay recorded). */
function dueAt(gap: Gap, options: GapfillOptions): number {
  return gap.fillableAt ?? fillableAt(gap.to, options);
}

/**
 * The shared insert loop's settings here: no deadline of its own, since every request is bounded by
 * the warehouse adapter's enforced timeout (GAPFILL_INSERT_TIMEOUT_MS) and the attempts are few.
 */
function insertOptions({ clock }: GapfillDeps, attempts: number, retryBaseMs = 200): DurableInsertOptions {
  return {
    attempts,
    retryBaseMs,
    retryMaxMs: 2000,
    maxRowsPerRequest: 500,
    maxBytesPerRequest: 5 * 1024 * 1024,
    deadline: Infinity,
    requestTimeoutMs: 0,
    clock,
  };
}

async function fillOne(deps: GapfillDeps, gap: Gap): Promise<FillOutcome> {
  const { ledger, clock, options, logger } = deps;
  const filling: Gap = {
    ...gap,
    state: 'filling',
    attempts: gap.attempts + 1,
    fillableAt: dueAt(gap, options),
    updatedAt: clock.now(),
  };
  if (!(await ledger.transition(gap.id, gap.state, filling))) return 'skipped';
  await mirror(deps, filling);
  const signal = AbortSignal.timeout(options.attemptTimeoutMs);
  try {
    const rows = await backfill(deps, gap, signal);
    const now = clock.now();
    const filled: Gap = {
      ...filling,
      state: 'filled',
      rowsBackfilled: rows,
      reason: null,
      filledAt: now,
      updatedAt: now,
    };
    await ledger.transition(gap.id, 'filling', filled);
    await mirror(deps, filled);
    logger.log('NOTICE', 'gap filled', {
      ...gapFields(filled),
      rows,
      fillableAt: iso(filled.fillableAt),
      fillLatencyMs: filled.fillableAt === null ? null : now - filled.fillableAt,
    });
    return 'filled';
  } catch (error) {
    const now = clock.now();
    let next: Gap;
    let outcome: FillOutcome;
    const why = error instanceof Error ? error.message : String(error);
    if (error instanceof HistoryError && error.failure === 'unauthorized') {
      next = {
        ...filling,
        state: 'failed',
        reason: `${KEY_REFUSED}: ${why}`,
        nextAttemptAt: now + options.unauthorizedBackoffMs,
        updatedAt: now,
      };
      outcome = 'unauthorized';
      logger.log(
        'ERROR',
        'history API refused the API key; check TARDIS_API_KEY. No more fills this run.',
        gapFields(next),
      );
    } else if (error instanceof HistoryError && error.failure === 'out_of_range') {
      next = { ...filling, state: 'unfillable', reason: `outside history coverage: ${why}`, updatedAt: now };
      outcome = 'unfillable';
    } else if (filling.attempts >= options.maxAttempts) {
      next = {
        ...filling,
        state: 'unfillable',
        reason: `gave up after ${filling.attempts} attempts: ${why}`,
        updatedAt: now,
      };
      outcome = 'unfillable';
    } else {
      const timedOut = signal.aborted && !(error instanceof TransientInsertError);
      next = {
        ...filling,
        state: 'failed',
        reason: timedOut ? `attempt timed out after ${options.attemptTimeoutMs} ms: ${why}` : why,
        nextAttemptAt: now + backoffMs(filling.attempts - 1, options.retryBaseMs, options.retryMaxMs),
        updatedAt: now,
      };
      outcome = 'failed';
    }
    await ledger.transition(gap.id, 'filling', next);
    await mirror(deps, next);
    if (outcome !== 'unauthorized') {
      logger.log(outcome === 'unfillable' ? 'ERROR' : 'WARNING', `gap ${next.state}`, gapFields(next));
    }
    return outcome;
  }
}

/** Fetches the gap's history and writes it; returns the number of valid rows written. */
async function backfill(deps: GapfillDeps, gap: Gap, signal: AbortSignal): Promise<number> {
  const { warehouse, clock, options } = deps;
  const table = TABLE_FOR_TYPE[gap.stream.type];
  const batchId = `gapfill/${gap.id}`;
  const insert = insertOptions(deps, options.insertAttempts);
  const from = gap.from - options.marginMs;
  const to = gap.to + options.marginMs;
  const sink = warehouseSink(warehouse);
  let pending: WarehouseRow[] = [];
  const quarantined: WarehouseRow[] = [];
  let written = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const refused = await insertDurably(sink, table, pending, undefined, insert);
    written += pending.length - refused.length;
    for (const { index, why } of refused) {
      const json = pending[index]!.json;
      quarantined.push(quarantineRow(batchId, gap, 'rejected_by_warehouse', why, json, clock.now()));
    }
    pending = [];
  };
  for await (const tick of deps.history.ticks(gap.stream, from, to, signal)) {
    if (signal.aborted) throw new Error('fill attempt aborted');
    const id = rowId(tick);
    const why = invalidReason(tick, clock.now());
    if (why) {
      quarantined.push(quarantineRow(batchId, gap, 'invalid_tick', why, tick, clock.now()));
      continue;
    }
    pending.push({
      insertId: id,
      json: tickToRow(tick, id, { ingestedAt: clock.now(), source: 'backfill', relayId: null, batchId }),
    });
    if (pending.length >= 500) await flush();
  }
  if (signal.aborted) throw new Error('fill attempt aborted');
  await flush();
  if (quarantined.length > 0) {
    const refused = await insertDurably(sink, 'quarantine', quarantined, undefined, insert);
    if (refused.length > 0) throw new TransientInsertError(`quarantine refused ${refused.length} rows`);
  }
  // Coverage last: the gap counts as recorded only once its rows are durable.
  const coverage = coverageRowFor(
    gap.stream,
    { from: gap.from, to: gap.to },
    batchId,
    written,
    'backfill',
    null,
    clock.now(),
  );
  const refused = await insertDurably(
    sink,
    'coverage',
    [{ insertId: batchId, json: coverage }],
    undefined,
    insert,
  );
  if (refused.length > 0) throw new TransientInsertError(`coverage row refused: ${refused[0]?.why}`);
  return written;
}

function quarantineRow(
  batchId: string,
  gap: Gap,
  reason: string,
  detail: string,
  payload: unknown,
  now: number,
): WarehouseRow {
  const text = JSON.stringify(payload);
  const id = `${batchId}#${reason}#${text.length}#${text.slice(0, 64)}`;
  return {
    insertId: id,
    json: {
      quarantine_id: id,
      reason,
      detail,
      message_id: null,
      batch_id: batchId,
      exchange: gap.stream.exchange,
      symbol: gap.stream.symbol,
      data_type: gap.stream.type,
      payload: text,
      received_at: new Date(now).toISOString(),
    },
  };
}

/** Mirrors a gap's state into the warehouse `gaps` table; best effort, the ledger is the truth. */
async function mirror(deps: GapfillDeps, gap: Gap): Promise<void> {
  const { warehouse, clock, logger } = deps;
  const row: WarehouseRow = {
    insertId: `${gap.id}:${gap.state}:${gap.attempts}`,
    json: {
      gap_id: gap.id,
      exchange: gap.stream.exchange,
      symbol: gap.stream.symbol,
      data_type: gap.stream.type,
      gap_from: new Date(gap.from).toISOString(),
      gap_to: new Date(gap.to).toISOString(),
      detected_by: gap.detectedBy,
      state: gap.state,
      attempts: gap.attempts,
      rows_backfilled: gap.rowsBackfilled,
      reason: gap.reason,
      updated_at: new Date(Math.max(gap.updatedAt, clock.now())).toISOString(),
      fillable_at: iso(gap.fillableAt),
      filled_at: iso(gap.filledAt),
    },
  };
  try {
    const refused = await insertDurably(
      warehouseSink(warehouse),
      'gaps',
      [row],
      undefined,
      insertOptions(deps, 3, 100),
    );
    if (refused.length > 0)
      logger.log('ERROR', 'gaps table refused a ledger row', { gapId: gap.id, why: refused[0]?.why });
  } catch (error) {
    logger.log('WARNING', 'gap mirror to the warehouse failed; the ledger holds the state', {
      gapId: gap.id,
      error,
    });
  }
}

/** The Warehouse as the insert loop's sink (the gap-filler needs no group commit). */
function warehouseSink(warehouse: Warehouse): InsertSink {
  return { insert: (table, rows) => warehouse.insert(table, rows) };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Log lines the monitoring alerts are built on (see infra/modules/monitoring). */
async function reportAges(deps: GapfillDeps, open: readonly Gap[]): Promise<void> {
  const now = deps.clock.now();
  const checkpoints = await deps.checkpoints.list();
  for (const stream of deps.options.streams) {
    const checkpoint = checkpoints.find((c) => streamId(c.stream) === streamId(stream));
    deps.logger.log('INFO', 'checkpoint age', {
      stream: streamId(stream),
      checkpointAgeMs: checkpoint ? now - checkpoint.coveredTo : null,
    });
  }
  for (const gap of open) {
    deps.logger.log('INFO', 'gap open', {
      stream: streamId(gap.stream),
      gapId: gap.id,
      gapAgeMs: now - gap.createdAt,
      state: gap.state,
    });
  }
}

function gapFields(gap: Gap): Record<string, unknown> {
  return {
    gapId: gap.id,
    stream: streamId(gap.stream),
    from: new Date(gap.from).toISOString(),
    to: new Date(gap.to).toISOString(),
    detectedBy: gap.detectedBy,
    state: gap.state,
    attempts: gap.attempts,
    reason: gap.reason,
  };
}

/**
 * Backfills one window of one stream by hand (the ops CLI): records it as a `manual` gap, or reuses the
 * ledger's gap for exactly that window, and fills it now, ignoring backoff. Returns the gap as it ends.
 */
export async function backfillWindow(
  deps: GapfillDeps,
  stream: StreamKey,
  from: number,
  to: number,
): Promise<Gap> {
  const gap = newGap(stream, from, to, 'manual', deps.clock.now());
  await deps.ledger.record(gap);
  const current = (await deps.ledger.get(gap.id)) ?? gap;
  if (current.state === 'filled') {
    // A second manual run re-fetches: dedup makes it harmless, and the operator asked for it.
    await deps.ledger.transition(gap.id, 'filled', {
      ...current,
      state: 'open',
      updatedAt: deps.clock.now(),
    });
  } else if (current.state === 'filling') {
    throw new Error(`gap ${gap.id} is being filled by a run right now`);
  } else if (current.state === 'unfillable') {
    await deps.ledger.transition(gap.id, 'unfillable', {
      ...current,
      state: 'open',
      attempts: 0,
      updatedAt: deps.clock.now(),
    });
  }
  const latest = (await deps.ledger.get(gap.id))!;
  await fillOne(deps, latest);
  return (await deps.ledger.get(gap.id))!;
}
