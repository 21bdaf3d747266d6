import { credentials } from '@grpc/grpc-js';
import { managedwriter, type protos } from '@google-cloud/bigquery-storage';
import type { Logger, RowFailure, Warehouse, WarehouseRow } from '../../core/ports.ts';
import type { TableName } from '../../core/contract/schema.ts';
import { WarehouseRequestError } from '../../core/shared/warehouse-error.ts';
import { encodeRows, prepareProtoTables, protoTable } from './storage-write-rows.ts';
import { DefaultStream } from './storage-write-stream.ts';

type AppendRowsResponse = protos.google.cloud.bigquery.storage.v1.IAppendRowsResponse;

/** An AppendRows request must stay under 10 MB; a margin is left for the schema and framing. */
const MAX_APPEND_BYTES = 9 * 1024 * 1024;
const INVALID_ARGUMENT = 3;

export interface StorageWriteOptions {
  /** Time one append may take before its connection is dropped and the rows are reported unsent. */
  readonly appendTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * A Storage Write client: with `emulatorHost` (`host:port`) it talks plaintext gRPC, without credentials,
 * to a local stand-in; otherwise to BigQuery with Application Default Credentials.
 */
export function createWriterClient(projectId: string, emulatorHost?: string): managedwriter.WriterClient {
  if (!emulatorHost) return new managedwriter.WriterClient({ projectId });
  const at = emulatorHost.lastIndexOf(':');
  return new managedwriter.WriterClient({
    projectId,
    apiEndpoint: emulatorHost.slice(0, at).replace(/^\[|\]$/g, ''),
    port: Number(emulatorHost.slice(at + 1)),
    sslCreds: credentials.createInsecure(),
  });
}

/**
 * The Warehouse port with inserts through the BigQuery Storage Write API (AppendRows on each table's
 * `_default` stream, rows as proto messages of the schema source) and queries through `queries`.
 * An append is atomic: either every row is durable (an answer without error) or none is. The default
 * stream is at-least-once, so a row sent again may be stored twice; the dedup views collapse it by id.
 */
export class StorageWriteWarehouse implements Warehouse {
  private readonly streams = new Map<TableName, DefaultStream>();

  constructor(
    private readonly client: managedwriter.WriterClient,
    private readonly projectId: string,
    private readonly dataset: string,
    private readonly queries: Pick<Warehouse, 'query'>,
    private readonly options: StorageWriteOptions,
  ) {
    prepareProtoTables();
  }

  async insert(table: TableName, rows: readonly WarehouseRow[]): Promise<RowFailure[]> {
    const encoded = encodeRows(table, rows);
    if (encoded.serialized.length === 0) return encoded.invalid;
    if (encoded.bytes > MAX_APPEND_BYTES) {
      throw new WarehouseRequestError(
        `AppendRows into ${table} too large: ${encoded.bytes} bytes of rows`,
        'too_large',
        undefined,
      );
    }
    let response: AppendRowsResponse;
    try {
      response = await this.stream(table).append(encoded.serialized, this.options.appendTimeoutMs);
    } catch (error) {
      throw appendError(table, error);
    }
    const status = response.error;
    if (!status || !status.code) return encoded.invalid;
    const rowErrors = response.rowErrors ?? [];
    if (rowErrors.length === 0) throw appendError(table, status);
    // The append stored nothing: the rows it names are refused, the others go again.
    const refused = new Map(rowErrors.map((e) => [Number(e.index), e.message ?? 'invalid row']));
    const failures = encoded.sent.map(
      (index, i): RowFailure =>
        refused.has(i)
          ? { index, reason: 'invalid', message: refused.get(i)!, retryable: false }
          : { index, reason: 'stopped', message: 'another row of the append was invalid', retryable: true },
    );
    return [...encoded.invalid, ...failures].sort((a, b) => a.index - b.index);
  }

  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    return this.queries.query<T>(sql, params);
  }

  /** Closes every connection and the client's channel (which would keep the process alive). Safe to call twice. */
  close(): void {
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
    this.client.close();
    void this.client.getClient().close();
  }

  private stream(table: TableName): DefaultStream {
    let stream = this.streams.get(table);
    if (!stream) {
      const path = `projects/${this.projectId}/datasets/${this.dataset}/tables/${table}`;
      stream = new DefaultStream(this.client, path, protoTable(table).descriptor, (error) =>
        this.options.logger.log('WARNING', 'AppendRows connection error', { table, error: String(error) }),
      );
      this.streams.set(table, stream);
    }
    return stream;
  }
}

/** A failed append: too large (split it) or anything else (retry it). */
function appendError(table: string, error: unknown): WarehouseRequestError {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const status = typeof code === 'number' ? code : undefined;
  const text = typeof message === 'string' ? message : String(error);
  const tooLarge = status === INVALID_ARGUMENT && /too large|exceeds|size limit/i.test(text);
  return new WarehouseRequestError(
    `AppendRows into ${table} failed${status === undefined ? '' : ` (gRPC ${status})`}: ${text}`,
    tooLarge ? 'too_large' : 'transient',
    undefined,
    { cause: error },
  );
}
