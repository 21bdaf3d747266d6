import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { modeOf, type BqField } from './schema-types.ts';
import { formatMicros, microsToIso, microsToSecondsString } from './timestamp.ts';

/** How TIMESTAMP cells are written: int64 microseconds, float seconds or an ISO string. */
export type TimestampFormat = 'INT64' | 'FLOAT64' | 'ISO8601_STRING';

/** One row in the API's `{f:[{v}]}` form. */
export interface FvRow {
  f: { v: unknown }[];
}

/**
 * The TIMESTAMP output format from `formatOptions`: the client asks for int64 microseconds
 * (`useInt64Timestamp=true`); without options the API answers float seconds.
 */
export function timestampFormatOf(
  useInt64Timestamp: unknown,
  timestampOutputFormat: unknown,
): TimestampFormat {
  if (timestampOutputFormat === 'ISO8601_STRING' || timestampOutputFormat === 'INT64')
    return timestampOutputFormat;
  if (timestampOutputFormat === 'FLOAT64') return 'FLOAT64';
  return useInt64Timestamp === true || useInt64Timestamp === 'true' ? 'INT64' : 'FLOAT64';
}

function microsOf(value: DuckDBValue): bigint | undefined {
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue) return value.micros;
  if (value instanceof DuckDBTimestampSecondsValue) return value.seconds * 1_000_000n;
  if (value instanceof DuckDBTimestampMillisecondsValue) return value.millis * 1_000n;
  if (value instanceof DuckDBTimestampNanosecondsValue) return value.nanos / 1_000n;
  return undefined;
}

/** A DuckDB value as plain JSON (for columns BigQuery can only show as JSON text). */
export function toPlainJson(value: DuckDBValue): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue)
    return value.items.map(toPlainJson);
  if (value instanceof DuckDBStructValue) {
    return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, toPlainJson(v)]));
  }
  if (value instanceof DuckDBMapValue)
    return value.entries.map((e) => [toPlainJson(e.key), toPlainJson(e.value)]);
  const micros = microsOf(value);
  if (micros !== undefined) return microsToIso(micros);
  return value.toString();
}

function trimDecimal(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function encodeScalar(field: BqField, value: DuckDBValue, format: TimestampFormat): unknown {
  if (value === null) return null;
  switch (field.type) {
    case 'RECORD': {
      const entries = value instanceof DuckDBStructValue ? value.entries : {};
      return {
        f: (field.fields ?? []).map((sub) => ({ v: encodeCell(sub, entries[sub.name] ?? null, format) })),
      };
    }
    case 'INTEGER':
      return typeof value === 'number' ? String(Math.trunc(value)) : value.toString();
    case 'FLOAT':
      if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
      return value instanceof DuckDBDecimalValue ? String(value.toDouble()) : value.toString();
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return trimDecimal(value.toString());
    case 'BOOLEAN':
      return value ? 'true' : 'false';
    case 'BYTES':
      return value instanceof DuckDBBlobValue
        ? Buffer.from(value.bytes).toString('base64')
        : value.toString();
    case 'TIMESTAMP': {
      const micros = microsOf(value);
      if (micros === undefined) return value.toString();
      if (format === 'INT64') return micros.toString();
      if (format === 'ISO8601_STRING') return microsToIso(micros);
      return microsToSecondsString(micros);
    }
    case 'DATETIME': {
      const micros = microsOf(value);
      return micros === undefined ? value.toString() : formatMicros(micros, 'T', false);
    }
    case 'JSON':
      return typeof value === 'string' ? value : JSON.stringify(toPlainJson(value));
    default:
      return typeof value === 'string' ? value : value.toString();
  }
}

/** One cell: a REPEATED field is a list of `{v}`, never null. */
export function encodeCell(field: BqField, value: DuckDBValue, format: TimestampFormat): unknown {
  if (modeOf(field) === 'REPEATED') {
    if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) {
      return value.items.map((item) => ({ v: encodeScalar(field, item, format) }));
    }
    return [];
  }
  return encodeScalar(field, value, format);
}

/** Rows of DuckDB values in the API's f/v form, following the schema column by column. */
export function encodeRows(
  fields: BqField[],
  rows: readonly DuckDBValue[][],
  format: TimestampFormat,
): FvRow[] {
  return rows.map((row) => ({
    f: fields.map((field, i) => ({ v: encodeCell(field, row[i] ?? null, format) })),
  }));
}
