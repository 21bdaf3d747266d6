import { adapt, protos } from '@google-cloud/bigquery-storage';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor/index.js'; // adds Type.fromDescriptor
import type { RowFailure, WarehouseRow } from '../../core/ports.ts';
import { TABLES, type TableName, type TableSchema } from '../../core/contract/schema.ts';
import { tableResource } from './tables.ts';

type DescriptorProto = protos.google.protobuf.IDescriptorProto;

/** A table's rows as the Storage Write API takes them: a proto2 message per row, and its descriptor. */
export interface ProtoTable {
  /** The writer schema sent with the appends (self-contained: nested types inside). */
  readonly descriptor: DescriptorProto;
  readonly type: protobuf.Type;
  /** Top-level TIMESTAMP columns: insertAll rows carry them as ISO text, proto rows as int64 micros. */
  readonly timestamps: readonly string[];
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
    timestamps: table.fields.filter((f) => f.type === 'TIMESTAMP').map((f) => f.name),
  };
}

const ISO_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

let lastSecond = '';
let lastSecondMs = 0;

/** An ISO-8601 timestamp as integer microseconds since the epoch (exact: no float rounding). */
export function isoToMicros(text: string): number | protobuf.Long | undefined {
  const match = ISO_RE.exec(text);
  if (!match) return undefined;
  // A batch's timestamps mostly share their second: parse it once.
  const second = `${match[1]}${match[3]}`;
  if (second !== lastSecond) {
    const ms = Date.parse(second);
    if (Number.isNaN(ms)) return undefined;
    lastSecond = second;
    lastSecondMs = ms;
  }
  const fraction = Number((match[2] ?? '').padEnd(6, '0').slice(0, 6));
  const micros = lastSecondMs * 1000 + fraction;
  if (Number.isSafeInteger(micros)) return micros;
  // Beyond 2^53 µs (year 2255) a number is no longer exact: a Long carries the value.
  const exact = BigInt(lastSecondMs) * 1000n + BigInt(fraction);
  return (protobuf.util.Long as unknown as { fromString(text: string): protobuf.Long }).fromString(
    exact.toString(),
  );
}

function protoRow(table: ProtoTable, json: Record<string, unknown>): Record<string, unknown> | string {
  const row: Record<string, unknown> = { ...json };
  for (const name of table.timestamps) {
    const value = row[name];
    if (value === null || value === undefined) continue;
    const micros = typeof value === 'string' ? isoToMicros(value) : undefined;
    if (micros === undefined) return `Cannot convert value to timestamp: ${String(value)} (field ${name})`;
    row[name] = micros;
  }
  for (const [name, value] of Object.entries(row)) {
    if (!(name in table.type.fields)) return `no such field: ${name}.`;
    if (value === null) delete row[name];
  }
  return table.type.verify(row) ?? row;
}

/** Encodes rows to proto messages; a row the schema cannot hold is refused (`invalid`) and not sent. */
export function encodeRows(name: TableName, rows: readonly WarehouseRow[]): EncodedRows {
  const table = protoTable(name);
  const serialized: Uint8Array[] = [];
  const sent: number[] = [];
  const invalid: RowFailure[] = [];
  let bytes = 0;
  rows.forEach((row, index) => {
    const shaped = protoRow(table, row.json);
    if (typeof shaped === 'string') {
      invalid.push({ index, reason: 'invalid', message: shaped, retryable: false });
      return;
    }
    const encoded = table.type.encode(shaped).finish();
    serialized.push(encoded);
    sent.push(index);
    bytes += encoded.length;
  });
  return { serialized, sent, bytes, invalid };
}
