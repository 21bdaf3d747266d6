/**
 * Billable ingestion, counted by each API's pricing rule (docs/COST.md, "Ingestion"):
 * - insertAll (legacy streaming) bills each accepted row at its data size, at least 1 KB;
 * - the Storage Write API bills the bytes of the serialized rows it appended.
 * Data sizes are BigQuery's: INT64, FLOAT64, TIMESTAMP, DATE, DATETIME, TIME 8 B, BOOL 1, NUMERIC 16,
 * BIGNUMERIC 32, STRING, JSON, GEOGRAPHY 2 + UTF-8 bytes, BYTES 2 + length, NULL 0, ARRAY and STRUCT
 * the sum of their parts.
 */
import { FIXED_BYTES } from './bytes-processed.ts';
import { modeOf, type BqField } from './schema-types.ts';

export const INSERT_ALL_MIN_ROW_BYTES = 1024;

/** One API's counters, served under `ingestion` by GET /_standin/stats. */
export interface IngestionCounter {
  requests: number;
  rows: number;
  billableBytes: number;
}

export interface IngestionCounters {
  insertAll: IngestionCounter;
  storageWrite: IngestionCounter;
}

export const emptyIngestion = (): IngestionCounters => ({
  insertAll: { requests: 0, rows: 0, billableBytes: 0 },
  storageWrite: { requests: 0, rows: 0, billableBytes: 0 },
});

function valueBytes(field: BqField, value: unknown): number {
  if (value === null || value === undefined) return 0;
  const fixed = FIXED_BYTES[field.type];
  if (fixed !== undefined) return fixed;
  switch (field.type) {
    case 'RECORD':
      return rowDataBytes(field.fields ?? [], value as Record<string, unknown>);
    case 'BYTES': // as the stand-in stores it: one \xNN escape per byte
      return 2 + String(value).length / 4;
    case 'JSON':
      return 2 + Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value));
    default:
      return 2 + Buffer.byteLength(String(value));
  }
}

/** The data size of one row, as `checkRow` returns it, under `fields`. */
export function rowDataBytes(fields: readonly BqField[], row: Record<string, unknown>): number {
  let bytes = 0;
  for (const field of fields) {
    const value = row[field.name];
    if (modeOf(field) === 'REPEATED' && Array.isArray(value)) {
      for (const item of value) bytes += valueBytes(field, item);
    } else bytes += valueBytes(field, value);
  }
  return bytes;
}

/** Counts one insertAll request's accepted rows, each billed as at least 1 KB. */
export function countInsertAll(
  counter: IngestionCounter,
  fields: readonly BqField[],
  rows: readonly Record<string, unknown>[],
): void {
  if (rows.length === 0) return;
  counter.requests += 1;
  counter.rows += rows.length;
  for (const row of rows)
    counter.billableBytes += Math.max(INSERT_ALL_MIN_ROW_BYTES, rowDataBytes(fields, row));
}

/** Counts one successful append: the bytes of its serialized rows. */
export function countAppend(counter: IngestionCounter, serialized: readonly Uint8Array[]): void {
  counter.requests += 1;
  counter.rows += serialized.length;
  for (const row of serialized) counter.billableBytes += row.length;
}
