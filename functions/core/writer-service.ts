import { comparePosition } from './checkpoint.ts';
import type { CheckpointCoalescer } from './checkpoint-coalescer.ts';
import { decodeBatch, batchId as makeBatchId, MessageDecodeError, type Batch } from './message.ts';
import type { Clock, Logger, Warehouse, WarehouseRow } from './ports.ts';
import { EnvelopeError, isValidBase64, parsePushEnvelope, type PushEnvelope } from './push.ts';
import { backoffMs, sleep } from './retry.ts';
import { coverageRow, tickToRow } from './rows.ts';
import { rowId as computeRowId } from './row-id.ts';
import { TABLE_FOR_TYPE, type TableName } from './schema.ts';
import { streamId } from './streams.ts';
import { DEFAULT_VALIDATION, invalidReason, type ValidationLimits } from './validate.ts';

export interface WriterOptions {
  /** Attempts for one insert before the delivery is answered 503 and left to Pub/Sub to redeliver. */
  readonly insertAttempts: number;
  readonly retryBaseMs: number;
  readonly validation: ValidationLimits;
}

export const DEFAULT_WRITER_OPTIONS: WriterOptions = Object.freeze({
  insertAttempts: 4,
  retryBaseMs: 100,
  validation: DEFAULT_VALIDATION,
});

export interface WriterDeps {
  readonly warehouse: Warehouse;
  readonly checkpoints: CheckpointCoalescer;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options?: Partial<WriterOptions>;
}

export type WriterOutcome = 'committed' | 'quarantined' | 'retry' | 'rejected';

export interface WriterResult {
  /** HTTP status for Pub/Sub: 2xx acknowledges, anything else is redelivered. */
  readonly status: number;
  readonly outcome: WriterOutcome;
  readonly rows: number;
  readonly quarantined: number;
  readonly detail?: string;
}

export interface WriterCounters {
  deliveries: number;
  rowsWritten: number;
  quarantinedRows: number;
  insertRetries: number;
  transientFailures: number;
  rejected: number;
}

/** The rows could not be made durable now; the delivery must be retried. */
export class TransientInsertError extends Error {
  override readonly name = 'TransientInsertError';
}

interface QuarantineEntry {
  readonly id: string;
  readonly reason: string;
  readonly detail: string;
  readonly payload: string;
}

/**
 * The writer's rule: acknowledge a delivery only when every row of its batch is in the warehouse or,
 * for rows that can never be valid, kept verbatim in quarantine. Then commit the batch's coverage, then
 * advance the checkpoint. Every insert uses the row id as insertId, so redeliveries are harmless.
 */
export function createWriter(deps: WriterDeps) {
  const options: WriterOptions = { ...DEFAULT_WRITER_OPTIONS, ...deps.options };
  const { warehouse, checkpoints, clock, logger } = deps;
  const counters: WriterCounters = {
    deliveries: 0,
    rowsWritten: 0,
    quarantinedRows: 0,
    insertRetries: 0,
    transientFailures: 0,
    rejected: 0,
  };

  async function insertDurably(
    table: TableName,
    rows: WarehouseRow[],
  ): Promise<{ row: WarehouseRow; why: string }[]> {
    const permanent: { row: WarehouseRow; why: string }[] = [];
    let todo = rows;
    for (let attempt = 0; todo.length > 0; attempt++) {
      if (attempt > 0) {
        counters.insertRetries++;
        await sleep(backoffMs(attempt - 1, options.retryBaseMs, 2000));
      }
      let failures;
      try {
        failures = await warehouse.insert(table, todo);
      } catch (error) {
        if (attempt + 1 >= options.insertAttempts) {
          throw new TransientInsertError(`insert into ${table} failed: ${errorMessage(error)}`, {
            cause: error,
          });
        }
        continue;
      }
      const retry: WarehouseRow[] = [];
      for (const failure of failures) {
        const row = todo[failure.index];
        if (!row) continue;
        if (failure.retryable) retry.push(row);
        else permanent.push({ row, why: `${failure.reason}: ${failure.message}` });
      }
      if (retry.length > 0 && attempt + 1 >= options.insertAttempts) {
        throw new TransientInsertError(
          `${retry.length} rows into ${table} still failing after ${attempt + 1} attempts`,
        );
      }
      todo = retry;
    }
    return permanent;
  }

  async function quarantine(
    envelope: PushEnvelope,
    batch: Batch | undefined,
    entries: QuarantineEntry[],
  ): Promise<void> {
    if (entries.length === 0) return;
    const now = clock.now();
    const rows: WarehouseRow[] = entries.map((entry) => ({
      insertId: entry.id,
      json: {
        quarantine_id: entry.id,
        reason: entry.reason,
        detail: entry.detail.slice(0, 4096),
        message_id: envelope.message.messageId,
        batch_id: envelope.message.attributes.batch ?? null,
        exchange: batch?.stream.exchange ?? envelope.message.attributes.exchange ?? null,
        symbol: batch?.stream.symbol ?? envelope.message.attributes.symbol ?? null,
        data_type: batch?.stream.type ?? envelope.message.attributes.type ?? null,
        payload: entry.payload,
        received_at: new Date(now).toISOString(),
      },
    }));
    const rejected = await insertDurably('quarantine', rows);
    if (rejected.length > 0) {
      // The quarantine table refusing a row is a bug in this code, not in the input: retry, never drop.
      throw new TransientInsertError(`quarantine refused ${rejected.length} rows: ${rejected[0]?.why}`);
    }
    counters.quarantinedRows += entries.length;
  }

  async function handleEnvelope(envelope: PushEnvelope): Promise<WriterResult> {
    const { message } = envelope;
    if (!isValidBase64(message.rawData)) {
      await quarantine(envelope, undefined, [
        {
          id: `msg:${message.messageId}`,
          reason: 'bad_base64',
          detail: 'message data is not base64',
          payload: message.rawData,
        },
      ]);
      return { status: 204, outcome: 'quarantined', rows: 0, quarantined: 1, detail: 'bad_base64' };
    }
    let decoded;
    try {
      decoded = decodeBatch(message.data);
    } catch (error) {
      if (!(error instanceof MessageDecodeError)) throw error;
      await quarantine(envelope, undefined, [
        {
          id: `msg:${message.messageId}`,
          reason: error.reason,
          detail: error.message,
          payload: payloadText(message.data),
        },
      ]);
      return { status: 204, outcome: 'quarantined', rows: 0, quarantined: 1, detail: error.reason };
    }
    const { batch, undecodable } = decoded;
    const id = makeBatchId(batch.relayId, batch.stream, batch.seq);
    const now = clock.now();
    const bad: QuarantineEntry[] = undecodable.map((u) => ({
      id: `${id}#${u.index}`,
      reason: 'undecodable_tick',
      detail: u.reason,
      payload: safeJson(u.raw),
    }));
    const rows: WarehouseRow[] = [];
    const meta = { ingestedAt: now, source: 'live' as const, relayId: batch.relayId, batchId: id };
    let last: { ts: number; tradeId: string | null } | null = null;
    batch.ticks.forEach((tick, i) => {
      const rowId = batch.rowIds[i]!;
      // The id drives dedup everywhere downstream, so a sender's id must be the one the tick implies.
      const why =
        rowId !== computeRowId(tick)
          ? 'row id does not match the tick'
          : invalidReason(tick, now, options.validation);
      if (why) {
        bad.push({ id: `${id}#${rowId}`, reason: 'invalid_tick', detail: why, payload: safeJson(tick) });
        return;
      }
      rows.push({ insertId: rowId, json: tickToRow(tick, rowId, meta) });
      const position = { ts: tick.ts, tradeId: tick.type === 'trade' ? (tick.id ?? null) : null };
      if (last === null || comparePosition(position, last) > 0) last = position;
    });

    const table = TABLE_FOR_TYPE[batch.stream.type];
    const refused = await insertDurably(table, rows);
    for (const { row, why } of refused) {
      bad.push({
        id: `${id}#${row.insertId}`,
        reason: 'rejected_by_warehouse',
        detail: why,
        payload: safeJson(row.json),
      });
    }
    await quarantine(envelope, batch, bad);

    // Coverage only after the rows it vouches for are durable: a crash in between re-sends both.
    const coverage = await insertDurably('coverage', [
      { insertId: id, json: coverageRow(batch, id, 'live', clock.now()) },
    ]);
    if (coverage.length > 0) throw new TransientInsertError(`coverage row refused: ${coverage[0]?.why}`);

    const position = last as { ts: number; tradeId: string | null } | null;
    checkpoints.submit({
      stream: batch.stream,
      lastTickTs: position?.ts ?? null,
      lastTradeId: position?.tradeId ?? null,
      rows: rows.length - refused.length,
      coveredTo: batch.window.to,
      batchId: id,
    });
    counters.rowsWritten += rows.length - refused.length;
    logger.log('DEBUG', 'batch committed', {
      batchId: id,
      stream: streamId(batch.stream),
      rows: rows.length - refused.length,
      quarantined: bad.length,
      deliveryAttempt: envelope.deliveryAttempt,
    });
    return {
      status: 204,
      outcome: 'committed',
      rows: rows.length - refused.length,
      quarantined: bad.length,
    };
  }

  return {
    counters,
    /** Handles one push request body and decides the HTTP status. Never throws. */
    async handle(body: unknown): Promise<WriterResult> {
      counters.deliveries++;
      let envelope: PushEnvelope;
      try {
        envelope = parsePushEnvelope(body);
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        counters.rejected++;
        logger.log('WARNING', 'request is not a Pub/Sub push', { reason: error.message });
        return { status: 400, outcome: 'rejected', rows: 0, quarantined: 0, detail: error.message };
      }
      try {
        return await handleEnvelope(envelope);
      } catch (error) {
        counters.transientFailures++;
        logger.log('WARNING', 'delivery not committed; Pub/Sub will redeliver', {
          messageId: envelope.message.messageId,
          batchId: envelope.message.attributes.batch,
          error: errorMessage(error),
        });
        return { status: 503, outcome: 'retry', rows: 0, quarantined: 0, detail: errorMessage(error) };
      }
    },
  };
}

export type Writer = ReturnType<typeof createWriter>;

function payloadText(data: Buffer): string {
  const text = data.toString('utf8');
  return Buffer.from(text, 'utf8').equals(data) ? text : `base64:${data.toString('base64')}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
