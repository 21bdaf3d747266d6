import { comparePosition } from './checkpoint.ts';
import type { CheckpointCoalescer, CoalescerStats } from './checkpoint-coalescer.ts';
import {
  insertDurably as insertRows,
  TransientInsertError,
  type RefusedRow,
} from '../shared/durable-insert.ts';
import { InsertCombiner } from './insert-combiner.ts';
import {
  decodeBatch,
  batchId as makeBatchId,
  MessageDecodeError,
  type Batch,
  type DecodedBatch,
} from '../contract/message.ts';
import type { Clock, Logger, Warehouse, WarehouseRow } from '../ports.ts';
import {
  EnvelopeError,
  isValidBase64,
  parsePushEnvelope,
  stringifyLoose,
  type PushEnvelope,
} from '../contract/push-envelope.ts';
import { sleep as realSleep } from '../shared/retry.ts';
import { coverageRow, tickToRow } from '../contract/rows.ts';
import { quarantineRow } from '../contract/quarantine-row.ts';
import { errorMessage } from '../shared/errors.ts';
import { rowId as computeRowId } from '../model/row-id.ts';
import { TABLE_FOR_TYPE, type TableName } from '../contract/schema.ts';
import { streamId } from '../model/streams.ts';
import type { Tick } from '../model/tick.ts';
import {
  DEFAULT_VALIDATION,
  invalidBatchReason,
  invalidTickValues,
  type ValidationLimits,
} from '../model/validate.ts';
import { LatencyWindow, newCounters, type LatencySummary, type WriterCounters } from './stats.ts';

export interface WriterOptions {
  /** Attempts for one insert within a delivery before the delivery is answered 503 (Pub/Sub redelivers). */
  readonly insertAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /**
   * Time budget of one delivery, kept well below the push ack deadline (60 s local, 120 s in the cloud):
   * no insert attempt starts that could end after it; the delivery is answered 503 instead.
   */
  readonly deliveryDeadlineMs: number;
  /** The warehouse adapter's per-request timeout (the budget check needs it). */
  readonly insertTimeoutMs: number;
  /** One insertAll request carries at most this many rows and about this many bytes of JSON. */
  readonly maxRowsPerRequest: number;
  readonly maxBytesPerRequest: number;
  /** insertAll requests in flight per table; beyond it, concurrent deliveries' rows share requests. */
  readonly maxInFlightPerTable: number;
  /** Quarantined payloads longer than this (characters) are stored in consecutive parts. */
  readonly quarantineChunkChars: number;
  readonly validation: ValidationLimits;
}

export const DEFAULT_WRITER_OPTIONS: WriterOptions = Object.freeze({
  insertAttempts: 6,
  retryBaseMs: 100,
  retryMaxMs: 2000,
  deliveryDeadlineMs: 40_000,
  insertTimeoutMs: 10_000,
  maxRowsPerRequest: 5000,
  maxBytesPerRequest: 5 * 1024 * 1024,
  maxInFlightPerTable: 2,
  quarantineChunkChars: 1024 * 1024,
  validation: DEFAULT_VALIDATION,
});

/** Something kept verbatim in quarantine: a whole message or one tick. */
export interface QuarantineEntry {
  readonly id: string;
  readonly reason: string;
  readonly detail: string;
  readonly payload: string;
}

/**
 * Quarantine entries as rows, with their estimated sizes. Stream fields come from the batch when it
 * decoded, else from the message attributes; a payload over `chunkChars` is stored in numbered parts.
 */
export function quarantineRows(
  envelope: PushEnvelope,
  batch: Batch | undefined,
  entries: readonly QuarantineEntry[],
  receivedAt: number,
  chunkChars: number,
): { rows: WarehouseRow[]; sizes: number[] } {
  const attributes = envelope.message.attributes;
  const rows: WarehouseRow[] = [];
  const sizes: number[] = [];
  for (const entry of entries) {
    const parts = splitPayload(entry.payload, chunkChars);
    parts.forEach((payload, k) => {
      const id = parts.length === 1 ? entry.id : `${entry.id}/part-${k + 1}-of-${parts.length}`;
      const detail = entry.detail.slice(0, 4096);
      rows.push(
        quarantineRow({
          id,
          reason: entry.reason,
          detail: parts.length === 1 ? detail : `${detail} (payload part ${k + 1} of ${parts.length})`,
          messageId: envelope.message.messageId,
          batchId: short(attributes.batch),
          exchange: short(batch?.stream.exchange ?? attributes.exchange),
          symbol: short(batch?.stream.symbol ?? attributes.symbol),
          dataType: short(batch?.stream.type ?? attributes.type),
          payload,
          receivedAt,
        }),
      );
      sizes.push(Buffer.byteLength(payload) + detail.length + 512);
    });
  }
  return { rows, sizes };
}

/** Rows of batch `id` the warehouse refused for good, as quarantine entries keeping their ticks. */
export function refusedEntries(
  id: string,
  rows: readonly WarehouseRow[],
  raw: readonly unknown[],
  refused: readonly RefusedRow[],
): QuarantineEntry[] {
  return refused.map(({ index, why }) => ({
    id: `${id}#${rows[index]!.insertId}`,
    reason: 'rejected_by_warehouse',
    detail: why,
    payload: stringifyLoose(raw[index]),
  }));
}

/** Attribute values are copied into quarantine rows; keep absurd ones from bloating them. */
function short(value: string | undefined): string | null {
  return value === undefined ? null : value.slice(0, 256);
}

/** Splits a payload into parts of at most `max` characters, never inside a surrogate pair. */
export function splitPayload(payload: string, max: number): string[] {
  if (payload.length <= max) return [payload];
  const parts: string[] = [];
  let start = 0;
  while (start < payload.length) {
    let end = Math.min(payload.length, start + max);
    const code = payload.charCodeAt(end - 1);
    if (end < payload.length && code >= 0xd800 && code <= 0xdbff) end--;
    parts.push(payload.slice(start, end));
    start = end;
  }
  return parts;
}

/** A message that cannot be stored as ticks: kept whole in quarantine (with its batch, if it decoded). */
export interface PoisonPlan {
  readonly kind: 'poison';
  readonly entry: QuarantineEntry;
  readonly batch?: Batch;
}

/** A valid batch: the rows to store, the ticks to quarantine and the position the checkpoint moves to. */
export interface BatchPlan {
  readonly kind: 'batch';
  readonly batch: Batch;
  readonly id: string;
  readonly table: TableName;
  readonly rows: WarehouseRow[];
  readonly sizes: number[];
  /** The tick array each row came from, for quarantine should the warehouse refuse it. */
  readonly raw: unknown[];
  readonly bad: QuarantineEntry[];
  readonly last: { ts: number; tradeId: string | null } | null;
}

/** Everything a delivery will write, computed before any I/O. */
export type Plan = PoisonPlan | BatchPlan;

/** The plan that keeps message `messageId` whole in quarantine. */
export function poisonPlan(
  messageId: string,
  reason: string,
  detail: string,
  payload: string,
  batch?: Batch,
): PoisonPlan {
  return {
    kind: 'poison',
    entry: { id: `msg:${messageId}`, reason, detail, payload },
    ...(batch ? { batch } : {}),
  };
}

/** Decodes and validates a delivery and shapes its rows. Pure: no I/O, deterministic in its input. */
export function planDelivery(envelope: PushEnvelope, now: number, limits: ValidationLimits): Plan {
  const { message } = envelope;
  const wholeMessage = (reason: string, detail: string, payload: string, batch?: Batch) =>
    poisonPlan(message.messageId, reason, detail, payload, batch);
  if (envelope.defect) {
    return wholeMessage(envelope.defect.reason, envelope.defect.detail, envelope.defect.payload);
  }
  if (!isValidBase64(message.rawData)) {
    return wholeMessage('bad_base64', 'message data is not base64', message.rawData);
  }
  let decoded;
  try {
    decoded = decodeBatch(message.data);
  } catch (error) {
    if (!(error instanceof MessageDecodeError)) throw error;
    return wholeMessage(error.reason, error.message, payloadText(message.data));
  }
  const batchProblem = invalidBatchReason(decoded.batch, now, limits);
  if (batchProblem) {
    return wholeMessage('invalid_batch', batchProblem, payloadText(message.data), decoded.batch);
  }
  return planBatch(decoded, now, limits);
}

/** Shapes a valid batch's ticks into rows; invalid and undecodable ticks become quarantine entries. */
function planBatch(
  { batch, undecodable, raw }: DecodedBatch,
  now: number,
  limits: ValidationLimits,
): BatchPlan {
  const id = makeBatchId(batch.relayId, batch.stream, batch.seq);
  const bad: QuarantineEntry[] = undecodable.map((u) => ({
    id: `${id}#${u.index}`,
    reason: 'undecodable_tick',
    detail: u.reason,
    payload: stringifyLoose(u.raw),
  }));
  const rows: WarehouseRow[] = [];
  const sizes: number[] = [];
  const rawRows: unknown[] = [];
  const meta = { ingestedAt: now, source: 'live' as const, relayId: batch.relayId, batchId: id };
  const fixed = 320 + id.length + batch.stream.symbol.length;
  let last: { ts: number; tradeId: string | null } | null = null;
  let skipped = 0;
  for (let i = 0; i < batch.ticks.length; i++) {
    // Index of the tick in the message's `t` array (undecodable ticks were left out of batch.ticks).
    while (skipped < undecodable.length && undecodable[skipped]!.index <= i + skipped) skipped++;
    const tick = batch.ticks[i]!;
    const rowId = batch.rowIds[i]!;
    // The id drives dedup everywhere downstream, so a sender's id must be the one the tick implies.
    const why =
      rowId !== computeRowId(tick) ? 'row id does not match the tick' : invalidTickValues(tick, now, limits);
    if (why) {
      bad.push({
        id: `${id}#${i + skipped}`,
        reason: 'invalid_tick',
        detail: why,
        payload: stringifyLoose(raw[i]),
      });
      continue;
    }
    rows.push({ insertId: rowId, json: tickToRow(tick, rowId, meta) });
    sizes.push(fixed + rowId.length + levelCount(tick) * 48);
    rawRows.push(raw[i]);
    const position = { ts: tick.ts, tradeId: tick.type === 'trade' ? (tick.id ?? null) : null };
    if (last === null || comparePosition(position, last) > 0) last = position;
  }
  return {
    kind: 'batch',
    batch,
    id,
    table: TABLE_FOR_TYPE[batch.stream.type],
    rows,
    sizes,
    raw: rawRows,
    bad,
    last,
  };
}

function levelCount(tick: Tick): number {
  return tick.type === 'book_change' ? tick.bids.length + tick.asks.length : 0;
}

function payloadText(data: Buffer): string {
  const text = data.toString('utf8');
  return Buffer.from(text, 'utf8').equals(data) ? text : `base64:${data.toString('base64')}`;
}

export interface CommitDeps {
  readonly warehouse: Warehouse;
  readonly checkpoints: CheckpointCoalescer;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  readonly options: WriterOptions;
  /** Updated as rows and requests go out. */
  readonly counters: WriterCounters;
  readonly latency: LatencyWindow;
}

/** What a committed batch stored. */
export interface Committed {
  /** Tick rows stored. */
  readonly rows: number;
  /** Ticks quarantined: invalid or undecodable, or refused by the warehouse. */
  readonly quarantined: number;
}

/**
 * The writer's I/O: makes a plan durable, or throws (TransientInsertError, or whatever the warehouse
 * threw) so the delivery is answered 503 and redelivered. Order: the batch's rows and quarantined ticks,
 * then its coverage row, then the checkpoint. Every insert uses the row id as insertId, so redeliveries
 * are harmless.
 */
export class CommitStep {
  private readonly sink: InsertCombiner;

  constructor(private readonly deps: CommitDeps) {
    const { options, counters, latency } = deps;
    this.sink = new InsertCombiner(
      deps.warehouse,
      {
        // Coverage and quarantine rows are tiny and one per delivery: under load they ride together.
        maxInFlight: (table) =>
          table === 'coverage' || table === 'quarantine' ? 1 : options.maxInFlightPerTable,
        maxRows: options.maxRowsPerRequest,
        maxBytes: options.maxBytesPerRequest,
      },
      (report) => {
        counters.insertRequests++;
        if (!report.ok) counters.insertRequestErrors++;
        latency.record(report.ms);
      },
    );
  }

  /** Keeps a poison message whole in quarantine. */
  async poison(envelope: PushEnvelope, plan: PoisonPlan, deadline: number): Promise<void> {
    await this.quarantine(envelope, plan.batch, [plan.entry], deadline);
    this.deps.counters.quarantinedMessages++;
  }

  /** Stores a batch's rows and quarantines its bad ticks, then commits its coverage and checkpoint. */
  async batch(envelope: PushEnvelope, plan: BatchPlan, deadline: number): Promise<Committed> {
    const { batch, id, table, rows, sizes, raw, bad, last } = plan;
    const { clock, counters } = this.deps;
    // The rows and the already known poison ticks are independent; both must be durable before coverage.
    const [refused] =
      bad.length === 0
        ? [await this.insertDurably(table, rows, sizes, deadline)]
        : await Promise.all([
            this.insertDurably(table, rows, sizes, deadline),
            this.quarantine(envelope, batch, bad, deadline),
          ]);
    if (refused.length > 0) {
      await this.quarantine(envelope, batch, refusedEntries(id, rows, raw, refused), deadline);
    }

    // Coverage only after the rows it vouches for are durable: a crash in between re-sends both.
    const coverage = await this.insertDurably(
      'coverage',
      [{ insertId: id, json: coverageRow(batch, id, 'live', clock.now()) }],
      [512 + id.length],
      deadline,
    );
    if (coverage.length > 0) throw new TransientInsertError(`coverage row refused: ${coverage[0]?.why}`);

    const stored = rows.length - refused.length;
    this.deps.checkpoints.submit({
      stream: batch.stream,
      lastTickTs: last?.ts ?? null,
      lastTradeId: last?.tradeId ?? null,
      rows: stored,
      coveredTo: batch.window.to,
      batchId: id,
    });
    counters.rowsWritten += stored;
    counters.committed++;
    return { rows: stored, quarantined: bad.length + refused.length };
  }

  private async quarantine(
    envelope: PushEnvelope,
    batch: Batch | undefined,
    entries: readonly QuarantineEntry[],
    deadline: number,
  ): Promise<void> {
    if (entries.length === 0) return;
    const { clock, options, counters } = this.deps;
    const { rows, sizes } = quarantineRows(
      envelope,
      batch,
      entries,
      clock.now(),
      options.quarantineChunkChars,
    );
    const refused = await this.insertDurably('quarantine', rows, sizes, deadline);
    if (refused.length > 0) {
      // The quarantine table refusing a row is a bug in this code, not in the input: retry, never drop.
      throw new TransientInsertError(`quarantine refused ${refused.length} rows: ${refused[0]?.why}`);
    }
    counters.quarantinedRows += entries.length;
  }

  /** Inserts rows through the shared durable-insert loop; resolves with the rows refused for good. */
  private insertDurably(
    table: TableName,
    rows: readonly WarehouseRow[],
    sizes: readonly number[],
    deadline: number,
  ): Promise<RefusedRow[]> {
    const { options, counters } = this.deps;
    return insertRows(this.sink, table, rows, sizes, {
      attempts: options.insertAttempts,
      retryBaseMs: options.retryBaseMs,
      retryMaxMs: options.retryMaxMs,
      maxRowsPerRequest: options.maxRowsPerRequest,
      maxBytesPerRequest: options.maxBytesPerRequest,
      deadline,
      requestTimeoutMs: options.insertTimeoutMs,
      clock: this.deps.clock,
      sleep: this.deps.sleep,
      onRetry: (n) => {
        counters.insertRetries++;
        counters.rowsRetried += n;
      },
    });
  }
}

export interface WriterDeps {
  readonly warehouse: Warehouse;
  readonly checkpoints: CheckpointCoalescer;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options?: Partial<WriterOptions>;
  /** Waits between retries; injected so tests can drive time. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type WriterOutcome = 'committed' | 'quarantined' | 'retry' | 'rejected';

export interface WriterResult {
  /** HTTP status for Pub/Sub: 2xx acknowledges, anything else is redelivered. */
  readonly status: number;
  readonly outcome: WriterOutcome;
  /** Tick rows stored. */
  readonly rows: number;
  /** Quarantine entries stored (a whole message counts once, however many parts it took). */
  readonly quarantined: number;
  readonly batchId?: string;
  readonly detail?: string;
}

export interface WriterStats extends WriterCounters {
  /** insertAll latency in the current reporting interval. */
  readonly insertLatency: LatencySummary;
  readonly checkpoints: CoalescerStats;
}

/** What handling one delivery needs. */
interface Delivery {
  readonly commit: CommitStep;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options: WriterOptions;
}

/**
 * The writer's rule: acknowledge a delivery (200) only when every row of its batch is in the warehouse
 * or, for rows that can never be valid, kept verbatim in quarantine; answer 503 when anything is not
 * durable (Pub/Sub redelivers) and 400 when the request is not a Pub/Sub push.
 */
export function createWriter(deps: WriterDeps) {
  const options: WriterOptions = { ...DEFAULT_WRITER_OPTIONS, ...deps.options };
  const { checkpoints, clock, logger } = deps;
  const counters = newCounters();
  const latency = new LatencyWindow();
  const commit = new CommitStep({
    warehouse: deps.warehouse,
    checkpoints,
    clock,
    sleep: deps.sleep ?? realSleep,
    options,
    counters,
    latency,
  });
  const delivery: Delivery = { commit, clock, logger, options };

  return {
    counters,
    /** Handles one push request body and decides the HTTP status. Never throws. */
    async handle(body: unknown): Promise<WriterResult> {
      counters.deliveries++;
      const deadline = clock.now() + options.deliveryDeadlineMs;
      let envelope: PushEnvelope;
      try {
        envelope = parsePushEnvelope(body);
      } catch (error) {
        counters.rejected++;
        const reason =
          error instanceof EnvelopeError ? error.message : `unreadable body: ${errorMessage(error)}`;
        logger.log('WARNING', 'request is not a Pub/Sub push', { reason });
        return { status: 400, outcome: 'rejected', rows: 0, quarantined: 0, detail: reason };
      }
      try {
        return await commitDelivery(delivery, envelope, deadline);
      } catch (error) {
        counters.retryResponses++;
        logger.log('WARNING', 'delivery not committed; Pub/Sub will redeliver', {
          messageId: envelope.message.messageId,
          batchId: envelope.message.attributes.batch,
          deliveryAttempt: envelope.deliveryAttempt,
          error: errorMessage(error),
        });
        return { status: 503, outcome: 'retry', rows: 0, quarantined: 0, detail: errorMessage(error) };
      }
    },
    /** Counters, this interval's insert latency and the checkpoint lag. */
    stats(): WriterStats {
      return { ...counters, insertLatency: latency.summary(), checkpoints: checkpoints.stats() };
    },
    /** The same without latency percentiles: cheap enough to put in every response (local debugging). */
    quickStats() {
      return { ...counters, insertLatency: latency.quick(), checkpoints: checkpoints.stats() };
    },
    /** Logs the stats as one INFO line and starts a new latency interval. */
    reportStats(): void {
      logger.log('INFO', 'writer stats', { stats: this.stats() });
      latency.reset();
    },
  };
}

export type Writer = ReturnType<typeof createWriter>;

/** Plans and commits one delivery: 200 once all of it is durable; throws when it is not. */
async function commitDelivery(
  delivery: Delivery,
  envelope: PushEnvelope,
  deadline: number,
): Promise<WriterResult> {
  const { commit, logger } = delivery;
  const plan = planOrPoison(delivery, envelope);
  if (plan.kind === 'poison') {
    await commit.poison(envelope, plan, deadline);
    logger.log('WARNING', 'message quarantined', {
      messageId: envelope.message.messageId,
      reason: plan.entry.reason,
      detail: plan.entry.detail,
      deliveryAttempt: envelope.deliveryAttempt,
    });
    return { status: 200, outcome: 'quarantined', rows: 0, quarantined: 1, detail: plan.entry.reason };
  }
  const { rows, quarantined } = await commit.batch(envelope, plan, deadline);
  logger.log('DEBUG', 'batch committed', {
    batchId: plan.id,
    stream: streamId(plan.batch.stream),
    rows,
    quarantined,
    deliveryAttempt: envelope.deliveryAttempt,
  });
  return { status: 200, outcome: 'committed', rows, quarantined, batchId: plan.id };
}

/** The delivery's plan, or poison when planning throws. */
function planOrPoison({ clock, logger, options }: Delivery, envelope: PushEnvelope): Plan {
  try {
    return planDelivery(envelope, clock.now(), options.validation);
  } catch (error) {
    // A deterministic failure on this input (a bug meeting odd data): it would fail on every
    // redelivery, so it is poison. Keep the message verbatim rather than loop.
    logger.log('ERROR', 'message could not be processed; quarantined', {
      messageId: envelope.message.messageId,
      error: errorMessage(error),
    });
    const { messageId, rawData } = envelope.message;
    return poisonPlan(messageId, 'processing_error', errorMessage(error), rawData);
  }
}
