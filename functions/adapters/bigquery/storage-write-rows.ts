import { adapt, protos } from '@google-cloud/bigquery-storage';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor/index.js'; // adds Type.fromDescriptor
import type { RowFailure, WarehouseRow } from '../../core/ports.ts';
import { TABLES, type TableName, type TableSchema } from '../../core/contract/schema.ts';
import { daysFromCivil } from '../../core/model/civil-days.ts';
import { tableResource } from './tables.ts';

type DescriptorProto = protos.google.protobuf.IDescriptorProto;

/** A table's rows as the Storage Write API takes them: a proto2 message per row, and its descriptor. */
export interface ProtoTable {
  /** The writer schema sent with the appends (self-contained: nested types inside). */
  readonly descriptor: DescriptorProto;
  readonly type: protobuf.Type;
  /** Every column, true for TIMESTAMP ones (insertAll rows carry them as ISO text, proto rows as int64 micros). */
  readonly columns: ReadonlyMap<string, boolean>;
}

/** Rows encoded for one append; `sent[i]` is the index (in the rows given) of `serialized[i]`. */
export interface EncodedRows {
  readonly serialized: Uint8Array[];
  readonly sent: number[];
  readonly bytes: number;
  /** Rows that cannot be expressed in the schema: refused as BigQuery would refuse them. */
  readonly invalid: RowFailure[];
}

const tables = new Map<TableName, ProtoTable>();

/** The proto form of a table of the schema source (`TABLES`), built once. */
export function protoTable(name: TableName): ProtoTable {
  let table = tables.get(name);
  if (!table) {
    table = buildProtoTable(TABLES[name]);
    tables.set(name, table);
  }
  return table;
}

/**
 * Builds every table's proto form and its generated encoder and checker now, at startup: built on first
 * use, they would add their cost to the first append, which has the append deadline.
 */
export function prepareProtoTables(): void {
  for (const name of Object.keys(TABLES) as TableName[]) {
    const { type } = protoTable(name);
    type.encode(type.create({}));
    type.verify({});
  }
}

function buildProtoTable(table: TableSchema): ProtoTable {
  const storageSchema = adapt.convertBigQuerySchemaToStorageTableSchema(
    tableResource(table).schema as Parameters<typeof adapt.convertBigQuerySchemaToStorageTableSchema>[0],
  );
  const descriptor = adapt.convertStorageSchemaToProto2Descriptor(storageSchema, 'root');
  const bytes = protos.google.protobuf.DescriptorProto.encode(descriptor).finish();
  const fromDescriptor = (protobuf.Type as unknown as { fromDescriptor(d: Uint8Array): protobuf.Type })
    .fromDescriptor;
  return {
    descriptor: descriptor.toJSON() as DescriptorProto,
    type: fromDescriptor(bytes),
    columns: new Map(table.fields.map((f) => [f.name, f.type === 'TIMESTAMP'])),
  };
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function monthDays(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : MONTH_DAYS[month - 1]!;
}

/** The decimal number of `length` digits at `at`, or -1 if any is not a digit. */
function digitsAt(text: string, at: number, length: number): number {
  let value = 0;
  for (let i = at; i < at + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** `-`, `-`, `T`, `:`, `:` where an ISO timestamp has them. */
function separated(text: string): boolean {
  return (
    text.charCodeAt(4) === 45 &&
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 84 &&
    text.charCodeAt(13) === 58 &&
    text.charCodeAt(16) === 58
  );
}

/** `±HH:MM` or `Z` at `at`, ending the text: the offset in minutes, or undefined. */
function zoneAt(text: string, at: number): number | undefined {
  if (text.length === at + 1 && text.charCodeAt(at) === 90 /* Z */) return 0;
  const sign = text.charCodeAt(at);
  if (text.length !== at + 6 || (sign !== 43 && sign !== 45) || text.charCodeAt(at + 3) !== 58)
    return undefined;
  const hours = digitsAt(text, at + 1, 2);
  const minutes = digitsAt(text, at + 4, 2);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) return undefined;
  return (sign === 45 ? -1 : 1) * (hours * 60 + minutes);
}

/**
 * An ISO-8601 timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) as integer microseconds since the
 * epoch, exact (digits past the sixth are cut), or undefined. Read digit by digit: three per row.
 */
export function isoToMicros(text: string): number | protobuf.Long | undefined {
  if (text.length < 20 || !separated(text)) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > monthDays(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  let at = 19;
  let fraction = 0;
  if (text.charCodeAt(at) === 46 /* . */) {
    let digits = 0;
    while (digits < 9 && text.charCodeAt(at + 1) >= 48 && text.charCodeAt(at + 1) <= 57) {
      if (digits < 6) fraction = fraction * 10 + text.charCodeAt(at + 1) - 48;
      digits++;
      at++;
    }
    if (digits === 0) return undefined;
    for (let d = Math.min(digits, 6); d < 6; d++) fraction *= 10;
    at++;
  }
  const offset = zoneAt(text, at);
  if (offset === undefined) return undefined;
  const seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + (minute - offset) * 60 + second;
  const micros = seconds * 1_000_000 + fraction;
  if (Number.isSafeInteger(micros)) return micros;
  // Beyond 2^53 µs (year 2255) a number is no longer exact: a Long carries the value.
  const exact = BigInt(seconds) * 1_000_000n + BigInt(fraction);
  return (protobuf.util.Long as unknown as { fromString(text: string): protobuf.Long }).fromString(
    exact.toString(),
  );
}

/** A row as the proto message takes it: timestamps as micros, nulls left out; or why it cannot be one. */
function protoRow(table: ProtoTable, json: Record<string, unknown>): Record<string, unknown> | string {
  const row: Record<string, unknown> = {};
  for (const name in json) {
    const value = json[name];
    const timestamp = table.columns.get(name);
    if (timestamp === undefined) return `no such field: ${name}.`;
    if (value === null || value === undefined) continue;
    if (!timestamp) {
      row[name] = value;
      continue;
    }
    const micros = typeof value === 'string' ? isoToMicros(value) : undefined;
    if (micros === undefined) return `Cannot convert value to timestamp: ${String(value)} (field ${name})`;
    row[name] = micros;
  }
  return table.type.verify(row) ?? row;
}

/** Encodes rows to proto messages; a row the schema cannot hold is refused (`invalid`) and not sent. */
export function encodeRows(name: TableName, rows: readonly WarehouseRow[]): EncodedRows {
  const table = protoTable(name);
  const sent: number[] = [];
  const ends: number[] = [];
  const invalid: RowFailure[] = [];
  // Every row into one buffer, then a view of it per row: no writer and buffer per row.
  const writer = protobuf.Writer.create();
  rows.forEach((row, index) => {
    const shaped = protoRow(table, row.json);
    if (typeof shaped === 'string') {
      invalid.push({ index, reason: 'invalid', message: shaped, retryable: false });
      return;
    }
    table.type.encode(shaped, writer);
    sent.push(index);
    ends.push(writer.len);
  });
  const buffer = writer.finish();
  const serialized = ends.map((end, i) => buffer.subarray(i === 0 ? 0 : ends[i - 1], end));
  return { serialized, sent, bytes: buffer.length, invalid };
}
