import type { WarehouseRow } from '../ports.ts';

/** What the `quarantine` table keeps of input that could not be stored as ticks. */
export interface QuarantineRecord {
  /** The row's `quarantine_id` and its insert id, so a redelivered copy collapses in `quarantine_dedup`. */
  id: string;
  reason: string;
  detail: string;
  messageId: string | null;
  batchId: string | null;
  exchange: string | null;
  symbol: string | null;
  dataType: string | null;
  payload: string;
  /** Milliseconds since the epoch. */
  receivedAt: number;
}

/** The one place a quarantine row is shaped (the writer and the gap-filler both quarantine). */
export function quarantineRow(record: QuarantineRecord): WarehouseRow {
  return {
    insertId: record.id,
    json: {
      quarantine_id: record.id,
      reason: record.reason,
      detail: record.detail,
      message_id: record.messageId,
      batch_id: record.batchId,
      exchange: record.exchange,
      symbol: record.symbol,
      data_type: record.dataType,
      payload: record.payload,
      received_at: new Date(record.receivedAt).toISOString(),
    },
  };
}
