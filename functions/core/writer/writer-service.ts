import { comparePosition } from './checkpoint.ts';
import type { CheckpointCoalescer, CoalescerStats } from './checkpoint-coalescer.ts';
import {
  insertDurably as insertRows,
  TransientInsertError,
  type RefusedRow,
} from '../shared/durable-insert.ts';
import { InsertCombiner } from './insert-combiner.ts';
import { batchId as makeBatchId, type Batch } from '../contract/batch.ts';
import { decodeBatch } from '../contract/decode.ts';
import { MessageDecodeError } from '../contract/decoded-batch.ts';
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

export type { WriterCounters } from './stats.ts';

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

export { TransientInsertError } from '../shared/durable-insert.ts';

interface QuarantineEntry {
  readonly id: string;
  readonly reason: string;
  readonly detail: string;
  readonly payload: string;
}

/** Everything a delivery will write, computed before any I/O. */
type Plan =
  | { readonly kind: 'poison'; readonly entry: QuarantineEntry; readonly batch?: Batch }
  | {
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
    };

/**
 * The writer's rule: acknowledge a delivery only when every row of its batch is in the warehouse or,
 * for rows that can never be valid, kept verbatim in quarantine. Then commit the batch's coverage, then
 * advance the checkpoint. Every insert uses the row id as insertId, so redeliveries are harmless.
 */
export function createWriter(deps: WriterDeps) {
  const options: WriterOptions = { ...DEFAULT_WRITER_OPTIONS, ...deps.options };
  const { warehouse, checkpoints, clock, logger } = deps;
  const sleep = deps.sleep ?? realSleep;
  const counters = newCounters();
  const latency = new LatencyWindow();
  const sink = new InsertCombiner(
    warehouse,
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

  /** Inserts rows through the shared durable-insert loop; resolves with the rows refused for good. */
  function insertDurably(
    table: TableName,
    rows: readonly WarehouseRow[],
    sizes: readonly number[],
    deadline: number,
  ): Promise<RefusedRow[]> {
    return insertRows(sink, table, rows, sizes, {
      attempts: options.insertAttempts,
      retryBaseMs: options.retryBaseMs,
      retryMaxMs: options.retryMaxMs,
      maxRowsPerRequest: options.maxRowsPerRequest,
      maxBytesPerRequest: options.maxBytesPerRequest,
      deadline,
      requestTimeoutMs: options.insertTimeoutMs,
      clock,
      sleep,
      onRetry: (n) => {
        counters.insertRetries++;
        counters.rowsRetried += n;
      },
    });
  }

  async function quarantine(
    envelope: PushEnvelope,
    batch: Batch | undefined,
    entries: readonly QuarantineEntry[],
    deadline: number,
  ): Promise<void> {
    if (entries.length === 0) return;
    const receivedAt = new Date(clock.now()).toISOString();
    const attributes = envelope.message.attributes;
    const rows: WarehouseRow[] = [];
    const sizes: number[] = [];
    for (const entry of entries) {
      const parts = splitPayload(entry.payload, options.quarantineChunkChars);
      parts.forEach((payload, k) => {
        const id = parts.length === 1 ? entry.id : `${entry.id}/part-${k + 1}-of-${parts.length}`;
        const detail = entry.detail.slice(0, 4096);
        rows.push({
          insertId: id,
          json: {
            quarantine_id: id,
            reason: entry.reason,
            detail: parts.length === 1 ? detail : `${detail} (payload part ${k + 1} of ${parts.length})`,
            message_id: envelope.message.messageId,
            batch_id: short(attributes.batch),
            exchange: short(batch?.stream.exchange ?? attributes.exchange),
            symbol: short(batch?.stream.symbol ?? attributes.symbol),
            data_type: short(batch?.stream.type ?? attributes.type),
            payload,
            received_at: receivedAt,
          },
        });
        sizes.push(Buffer.byteLength(payload) + detail.length + 512);
      });
    }
    const refused = await insertDurably('quarantine', rows, sizes, deadline);
    if (refused.length > 0) {
      // The quarantine table refusing a row is a bug in this code, not in the input: retry, never drop.
      throw new TransientInsertError(`quarantine refused ${refused.length} rows: ${refused[0]?.why}`);
    }
    counters.quarantinedRows += entries.length;
  }

  /** Decodes and validates a delivery and shapes its rows. Pure: no I/O, deterministic in its input. */
  function plan(envelope: PushEnvelope, now: number): Plan {
    const { message } = envelope;
    const wholeMessage = (reason: string, detail: string, payload: string, batch?: Batch): Plan => ({
      kind: 'poison',
      entry: { id: `msg:${message.messageId}`, reason, detail, payload },
      ...(batch ? { batch } : {}),
    });
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
    const { batch, undecodable, raw } = decoded;
    const batchProblem = invalidBatchReason(batch, now, options.validation);
    if (batchProblem) return wholeMessage('invalid_batch', batchProblem, payloadText(message.data), batch);

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
        rowId !== computeRowId(tick)
          ? 'row id does not match the tick'
          : invalidTickValues(tick, now, options.validation);
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

  async function handleEnvelope(envelope: PushEnvelope, deadline: number): Promise<WriterResult> {
    let planned: Plan;
    try {
      planned = plan(envelope, clock.now());
    } catch (error) {
      // A deterministic failure on this input (a bug meeting odd data): it would fail on every
      // redelivery, so it is poison. Keep the message verbatim rather than loop.
      logger.log('ERROR', 'message could not be processed; quarantined', {
        messageId: envelope.message.messageId,
        error: errorMessage(error),
      });
      planned = {
        kind: 'poison',
        entry: {
          id: `msg:${envelope.message.messageId}`,
          reason: 'processing_error',
          detail: errorMessage(error),
          payload: envelope.message.rawData,
        },
      };
    }
    if (planned.kind === 'poison') {
      await quarantine(envelope, planned.batch, [planned.entry], deadline);
      counters.quarantinedMessages++;
      logger.log('WARNING', 'message quarantined', {
        messageId: envelope.message.messageId,
        reason: planned.entry.reason,
        detail: planned.entry.detail,
        deliveryAttempt: envelope.deliveryAttempt,
      });
      return { status: 200, outcome: 'quarantined', rows: 0, quarantined: 1, detail: planned.entry.reason };
    }

    const { batch, id, table, rows, sizes, raw, bad, last } = planned;
    // The rows and the already known poison ticks are independent; both must be durable before coverage.
    const [refused] =
      bad.length === 0
        ? [await insertDurably(table, rows, sizes, deadline)]
        : await Promise.all([
            insertDurably(table, rows, sizes, deadline),
            quarantine(envelope, batch, bad, deadline),
          ]);
    if (refused.length > 0) {
      await quarantine(
        envelope,
        batch,
        refused.map(({ index, why }) => ({
          id: `${id}#${rows[index]!.insertId}`,
          reason: 'rejected_by_warehouse',
          detail: why,
          payload: stringifyLoose(raw[index]),
        })),
        deadline,
      );
    }

    // Coverage only after the rows it vouches for are durable: a crash in between re-sends both.
    const coverage = await insertDurably(
      'coverage',
      [{ insertId: id, json: coverageRow(batch, id, 'live', clock.now()) }],
      [512 + id.length],
      deadline,
    );
    if (coverage.length > 0) throw new TransientInsertError(`coverage row refused: ${coverage[0]?.why}`);

    const stored = rows.length - refused.length;
    checkpoints.submit({
      stream: batch.stream,
      lastTickTs: last?.ts ?? null,
      lastTradeId: last?.tradeId ?? null,
      rows: stored,
      coveredTo: batch.window.to,
      batchId: id,
    });
    counters.rowsWritten += stored;
    counters.committed++;
    const quarantined = bad.length + refused.length;
    logger.log('DEBUG', 'batch committed', {
      batchId: id,
      stream: streamId(batch.stream),
      rows: stored,
      quarantined,
      deliveryAttempt: envelope.deliveryAttempt,
    });
    return { status: 200, outcome: 'committed', rows: stored, quarantined, batchId: id };
  }

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
        return await handleEnvelope(envelope, deadline);
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

function levelCount(tick: Tick): number {
  return tick.type === 'book_change' ? tick.bids.length + tick.asks.length : 0;
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

function payloadText(data: Buffer): string {
  const text = data.toString('utf8');
  return Buffer.from(text, 'utf8').equals(data) ? text : `base64:${data.toString('base64')}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
