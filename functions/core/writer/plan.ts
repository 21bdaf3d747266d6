/**
 * The writer's plan: a push envelope decoded and validated into rows, quarantine entries and the
 * checkpoint position. Pure: no I/O, and time only as the `now` passed in.
 */
import { comparePosition, type Position } from './checkpoint.ts';
import { batchId as makeBatchId, type Batch } from '../contract/batch.ts';
import { decodeMessage, type Section } from '../contract/decode.ts';
import { MessageDecodeError, type DecodedBatch } from '../contract/decoded-batch.ts';
import type { WarehouseRow } from '../ports.ts';
import { isValidBase64, stringifyLoose, type PushEnvelope } from '../contract/push-envelope.ts';
import { tickToRow } from '../contract/rows.ts';
import { rowId as computeRowId } from '../model/row-id.ts';
import { TABLE_FOR_TYPE, type TableName } from '../contract/schema.ts';
import type { Tick } from '../model/tick.ts';
import { invalidBatchReason, invalidTickValues, type ValidationLimits } from '../model/validate.ts';
import { tickQuarantineKey, type QuarantineEntry } from './quarantine.ts';

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
  /** The bytes tick quarantine ids are keyed by: the message, or the batch's section of a bundle. */
  readonly data: Buffer;
  readonly bad: QuarantineEntry[];
  /** The furthest tick stored: where the checkpoint moves to. */
  readonly last: Position | null;
}

/**
 * A v4 bundle: each readable, valid section is a batch of its own; each other section is kept whole in
 * quarantine (`msg:<messageId>#<section index>`) without touching its neighbours.
 */
export interface BundlePlan {
  readonly kind: 'bundle';
  readonly batches: BatchPlan[];
  readonly poison: PoisonPlan[];
}

/** Everything a delivery will write, computed before any I/O. */
export type Plan = PoisonPlan | BatchPlan | BundlePlan;

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
  let read;
  try {
    read = decodeMessage(message.data);
  } catch (error) {
    if (!(error instanceof MessageDecodeError)) throw error;
    return wholeMessage(error.reason, error.message, payloadText(message.data));
  }
  if (read.kind === 'bundle') return planBundle(message.messageId, read.sections, now, limits);
  const decoded = read.decoded;
  const batchProblem = invalidBatchReason(decoded.batch, now, limits);
  if (batchProblem) {
    return wholeMessage('invalid_batch', batchProblem, payloadText(message.data), decoded.batch);
  }
  return planBatch(decoded, message.data, now, limits);
}

/** Plans each section of a bundle on its own: a bad section is quarantined, the others are stored. */
function planBundle(
  messageId: string,
  sections: readonly Section[],
  now: number,
  limits: ValidationLimits,
): BundlePlan {
  const batches: BatchPlan[] = [];
  const poison: PoisonPlan[] = [];
  sections.forEach(({ data, decoded }, i) => {
    const where = `bundle section ${i} of ${sections.length}`;
    if (decoded instanceof MessageDecodeError) {
      poison.push(
        poisonPlan(`${messageId}#${i}`, decoded.reason, `${where}: ${decoded.message}`, payloadText(data)),
      );
      return;
    }
    const problem = invalidBatchReason(decoded.batch, now, limits);
    if (problem) {
      const detail = `${where}: ${problem}`;
      poison.push(poisonPlan(`${messageId}#${i}`, 'invalid_batch', detail, payloadText(data), decoded.batch));
      return;
    }
    batches.push(planBatch(decoded, data, now, limits));
  });
  return { kind: 'bundle', batches, poison };
}

/**
 * Shapes a valid batch's ticks into rows; invalid and undecodable ticks become quarantine entries, keyed by
 * the message's `data` (hashed only when some tick is bad).
 */
function planBatch(
  { batch, undecodable, raw }: DecodedBatch,
  data: Buffer,
  now: number,
  limits: ValidationLimits,
): BatchPlan {
  const id = makeBatchId(batch.relayId, batch.stream, batch.seq);
  let key: string | undefined;
  const entryId = (index: number) => `${(key ??= tickQuarantineKey(id, data))}#${index}`;
  const bad: QuarantineEntry[] = undecodable.map((u) => ({
    id: entryId(u.index),
    reason: 'undecodable_tick',
    detail: u.reason,
    payload: stringifyLoose(u.raw),
  }));
  const rows: WarehouseRow[] = [];
  const sizes: number[] = [];
  const rawRows: unknown[] = [];
  const meta = { ingestedAt: now, source: 'live' as const, relayId: batch.relayId, batchId: id };
  const fixed = 320 + id.length + batch.stream.symbol.length;
  let last: Position | null = null;
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
        id: entryId(i + skipped),
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
    data,
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
