import { protos } from '@google-cloud/bigquery-storage';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor/index.js'; // adds Type.fromDescriptor
import { BigQueryHttpError } from './errors.ts';
import type { FaultInjector } from './faults.ts';
import { countAppend, type IngestionCounters } from './ingestion-bytes.ts';
import type { RowCounters } from './insert-all.ts';
import { checkRow } from './row-validate.ts';
import { modeOf, type BqField } from './schema-types.ts';
import { microsToIso } from './timestamp.ts';
import type { Warehouse } from './warehouse.ts';

type AppendRowsRequest = protos.google.cloud.bigquery.storage.v1.AppendRowsRequest;
export type AppendRowsResponse = protos.google.cloud.bigquery.storage.v1.IAppendRowsResponse;

/** gRPC status codes the stand-in answers with. */
export const Code = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const FIELDS_ERROR = 1; // RowError.RowErrorCode
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
const STREAM_RE = /^projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)\/streams\/([^/]+)$/;

export interface AppendDeps {
  warehouse: Warehouse;
  faults: FaultInjector;
  rows: RowCounters;
  ingestion: IngestionCounters;
  projectIds: readonly string[];
}

/** What one AppendRows connection remembers between requests: its stream and writer schema. */
export interface AppendState {
  writeStream?: string;
  type?: protobuf.Type;
}

/** A whole-request failure, answered in band (AppendRowsResponse.error). */
export class AppendError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const fromDescriptor = (protobuf.Type as unknown as { fromDescriptor(d: Uint8Array): protobuf.Type })
  .fromDescriptor;

/** Writer schemas already read, by their bytes: the client sends the schema with every append. */
const writerTypes = new Map<string, protobuf.Type>();
const MAX_WRITER_TYPES = 256;

function writerType(bytes: Uint8Array): protobuf.Type {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let type = writerTypes.get(key);
  if (!type) {
    type = fromDescriptor(bytes);
    // Generate its decoder now: on first use it would land inside an append the client times.
    type.toObject(type.decode(new Uint8Array(0)), { longs: String, arrays: true });
    if (writerTypes.size >= MAX_WRITER_TYPES) writerTypes.clear();
    writerTypes.set(key, type);
  }
  return type;
}

/** The gRPC code for an HTTP status a fault asks for (the REST stand-in's faults apply to both APIs). */
export function grpcCodeOf(status: number): number {
  if (status === 400) return Code.INVALID_ARGUMENT;
  if (status === 403) return Code.PERMISSION_DENIED;
  if (status === 404) return Code.NOT_FOUND;
  if (status === 429) return Code.RESOURCE_EXHAUSTED;
  if (status === 504) return Code.DEADLINE_EXCEEDED;
  if (status === 500) return Code.INTERNAL;
  return Code.UNAVAILABLE;
}

/** The table of a write stream name; only `_default` streams exist here. */
export function streamTable(
  deps: AppendDeps,
  name: string,
): { datasetId: string; tableId: string; faultPath: string } {
  const m = STREAM_RE.exec(name);
  if (!m) throw new AppendError(Code.INVALID_ARGUMENT, `Invalid write stream name: ${name}`);
  const [, project, datasetId, tableId, stream] = m as unknown as string[];
  if (!deps.projectIds.includes(project!))
    throw new AppendError(Code.NOT_FOUND, `Project ${project} not found`);
  if (stream !== '_default') {
    throw new AppendError(Code.UNIMPLEMENTED, `Only _default streams are served here, not ${stream}`);
  }
  return {
    datasetId: datasetId!,
    tableId: tableId!,
    faultPath: `/projects/${project}/datasets/${datasetId}/tables/${tableId}/appendRows`,
  };
}

/** Takes the stream and writer schema a request carries (the first must carry both). */
export function remember(state: AppendState, request: AppendRowsRequest): void {
  if (request.writeStream) {
    if (state.writeStream && state.writeStream !== request.writeStream) {
      throw new AppendError(Code.INVALID_ARGUMENT, 'A connection appends to one write stream');
    }
    state.writeStream = request.writeStream;
  }
  const descriptor = request.protoRows?.writerSchema?.protoDescriptor;
  if (descriptor) {
    try {
      state.type = writerType(protos.google.protobuf.DescriptorProto.encode(descriptor).finish());
    } catch (error) {
      throw new AppendError(Code.INVALID_ARGUMENT, `Invalid proto schema: ${String(error)}`);
    }
  }
  if (!state.writeStream)
    throw new AppendError(Code.INVALID_ARGUMENT, 'The first request must name the write stream');
  if (!state.type)
    throw new AppendError(Code.INVALID_ARGUMENT, 'The first request must carry the writer schema');
}

/** A decoded proto row as an insertAll `json` row: TIMESTAMP int64 micros become ISO text. */
function jsonRow(fields: readonly BqField[], row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...row };
  for (const field of fields) {
    const value = out[field.name];
    if (value === undefined || value === null) continue;
    const convert = (v: unknown): unknown =>
      field.type === 'TIMESTAMP'
        ? microsToIso(BigInt(String(v)))
        : field.type === 'RECORD'
          ? jsonRow(field.fields ?? [], v as Record<string, unknown>)
          : v;
    out[field.name] =
      modeOf(field) === 'REPEATED' && Array.isArray(value) ? value.map(convert) : convert(value);
  }
  return out;
}

/** Columns of the writer schema the table does not have: BigQuery refuses the whole request. */
function extraColumns(type: protobuf.Type, fields: readonly BqField[]): string[] {
  const known = new Set(fields.map((f) => f.name.toLowerCase()));
  return Object.keys(type.fields).filter((name) => !known.has(name.toLowerCase()));
}

/**
 * Serves one AppendRows request (after `remember`) on the `_default` stream: decodes the proto rows with the writer
 * schema, checks them against the table like insertAll does, and stores all of them or none; rows
 * that cannot be stored are named in `rowErrors`.
 */
export async function appendRows(
  deps: AppendDeps,
  state: AppendState,
  request: AppendRowsRequest,
): Promise<AppendRowsResponse> {
  const { datasetId, tableId } = streamTable(deps, state.writeStream!);
  const serialized = request.protoRows?.rows?.serializedRows ?? [];
  const size = serialized.reduce((sum, row) => sum + row.length, 0);
  if (size > MAX_REQUEST_BYTES) {
    throw new AppendError(Code.INVALID_ARGUMENT, `AppendRows request too large: ${size} bytes (limit 10 MB)`);
  }
  const type = state.type!;
  return deps.warehouse.insertRows<AppendRowsResponse>(datasetId, tableId, (table) => {
    const extra = extraColumns(type, table.schema);
    if (extra.length > 0) {
      throw new AppendError(
        Code.INVALID_ARGUMENT,
        `Input schema has more fields than BigQuery schema, extra fields: '${extra.join(', ')}'`,
      );
    }
    const rowErrors: { index: number; code: number; message: string }[] = [];
    const checked: Record<string, unknown>[] = [];
    const decoded: Record<string, unknown>[] = [];
    serialized.forEach((bytes, index) => {
      let row: Record<string, unknown>;
      try {
        row = type.toObject(type.decode(bytes), { longs: String, arrays: true });
      } catch (error) {
        rowErrors.push({ index, code: FIELDS_ERROR, message: `Cannot decode row: ${String(error)}` });
        return;
      }
      const json = jsonRow(table.schema, row);
      decoded[index] = json;
      const check = checkRow(table.schema, json, false);
      if (check.ok) checked.push(check.row);
      else rowErrors.push({ index, code: FIELDS_ERROR, message: check.error.message });
    });
    for (const [index, injected] of deps.faults.insertErrorsFor(
      datasetId,
      tableId,
      decoded.map((json) => ({ json })),
    )) {
      if (injected.reason !== 'invalid') throw new AppendError(Code.INTERNAL, injected.message);
      if (!rowErrors.some((e) => e.index === index)) {
        rowErrors.push({ index, code: FIELDS_ERROR, message: injected.message });
      }
    }
    if (rowErrors.length > 0) {
      deps.rows.rejected += serialized.length;
      const error = {
        code: Code.INVALID_ARGUMENT,
        message: `Errors found while processing rows: ${rowErrors.length}`,
      };
      return { rows: [], result: { error, rowErrors: rowErrors.sort((a, b) => a.index - b.index) } };
    }
    return {
      rows: checked,
      onStored: () => {
        deps.rows.inserted += checked.length;
        countAppend(deps.ingestion.storageWrite, serialized);
      },
      result: { appendResult: {}, writeStream: state.writeStream },
    };
  });
}

/** An in-band answer for an error thrown while serving a request. */
export function errorResponse(error: unknown): AppendRowsResponse {
  if (error instanceof AppendError) return { error: { code: error.code, message: error.message } };
  if (error instanceof BigQueryHttpError)
    return { error: { code: grpcCodeOf(error.code), message: error.message } };
  return { error: { code: Code.INTERNAL, message: String(error) } };
}
