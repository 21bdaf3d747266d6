import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BigQuery as BigQueryClient, type BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';
import type { RowFailure, Warehouse, WarehouseRow } from '../core/ports.ts';
import { isRetryableInsertReason } from '../core/retry.ts';
import { WarehouseRequestError } from '../core/warehouse-error.ts';
import {
  dedupViewName,
  dedupViewSql,
  TABLES,
  type FieldSchema,
  type TableName,
  type TableSchema,
} from '../core/schema.ts';

interface InsertAllResponse {
  insertErrors?: { index?: number; errors?: { reason?: string; message?: string }[] }[];
}

export interface BigQueryWarehouseOptions {
  /** Timeout of one insertAll request (default: none for `client`, whose own 60 s is not enforced; 60 s for `direct`). */
  readonly requestTimeoutMs?: number;
  /**
   * How insertAll requests travel. `client` (default): through the client's request stack, with its
   * retry settings. `direct`: the client's endpoint and credentials, but sent with Node's HTTP agent
   * (keep-alive), never retried. The client's stack (teeny-request, retry-request, node-fetch) costs
   * about 2.5 ms of CPU per request, half of the writer's CPU per batch (docs/PERFORMANCE.md).
   */
  readonly transport?: 'client' | 'direct';
}

/** The Warehouse port on BigQuery's streaming insert (insertAll) and query APIs. */
export class BigQueryWarehouse implements Warehouse {
  constructor(
    private readonly bigquery: BigQuery,
    private readonly dataset: string,
    private readonly options: BigQueryWarehouseOptions = {},
  ) {}

  async insert(table: TableName, rows: readonly WarehouseRow[]): Promise<RowFailure[]> {
    if (rows.length === 0) return [];
    // The body is serialized here once: Table#insert deep-copies every row and the client walks every
    // value of a `json` body looking for project id tokens, which is most of its cost per row.
    // skipInvalidRows: valid rows go in even when a neighbour is invalid; retries are ours to decide.
    const body = JSON.stringify({
      skipInvalidRows: true,
      rows: rows.map((row) => ({ insertId: row.insertId, json: row.json })),
    });
    let response: InsertAllResponse;
    try {
      if (this.options.transport === 'direct') response = await this.postDirect(table, body);
      else {
        const sent = this.bigquery
          .dataset(this.dataset)
          .table(table)
          .request({
            method: 'POST',
            uri: '/insertAll',
            body,
            headers: { 'Content-Type': 'application/json' },
          }) as unknown as Promise<[InsertAllResponse]>;
        // The client's own `timeout` is not enforced: teeny-request hands it to node-fetch 3, which has
        // no timeout option. Give up waiting here (the request itself may still complete; insertIds
        // make a retry harmless).
        [response] = await withTimeout(sent, this.options.requestTimeoutMs);
      }
    } catch (error) {
      throw requestError(table, error);
    }
    const failures: RowFailure[] = [];
    for (const failure of response?.insertErrors ?? []) {
      if (failure.index === undefined || failure.index < 0 || failure.index >= rows.length) continue;
      const first = failure.errors?.find((e) => e.reason !== 'stopped') ?? failure.errors?.[0];
      const reason = first?.reason ?? 'unknown';
      failures.push({
        index: failure.index,
        reason,
        message: first?.message ?? '',
        retryable: isRetryableInsertReason(reason),
      });
    }
    return failures;
  }

  private agent: HttpAgent | HttpsAgent | undefined;

  /** POSTs an insertAll body to the client's endpoint with the client's credentials. */
  private async postDirect(table: TableName, body: string): Promise<InsertAllResponse> {
    const { bigquery } = this;
    const projectId = bigquery.projectId.includes('{{') ? await bigquery.getProjectId() : bigquery.projectId;
    const url = new URL(
      `${bigquery.baseUrl}/projects/${encodeURIComponent(projectId)}/datasets/${encodeURIComponent(this.dataset)}` +
        `/tables/${encodeURIComponent(table)}/insertAll`,
    );
    const headers: Record<string, string> = {};
    (await bigquery.authClient.getRequestHeaders(url.toString())).forEach((value, key) => {
      headers[key] = value;
    });
    headers['content-type'] = 'application/json';
    headers['user-agent'] = 'tickstream-writer (insertAll direct)';
    headers['content-length'] = String(Buffer.byteLength(body));
    const https = url.protocol === 'https:';
    this.agent ??= https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    const send = https ? httpsRequest : httpRequest;
    const timeoutMs = this.options.requestTimeoutMs ?? 60_000;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send(url, { method: 'POST', headers, agent: this.agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      // A deadline for the whole exchange, not an idle timeout: a slow trickle must not outlast it.
      const timer = setTimeout(
        () => req.destroy(new Error(`insertAll timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.end(body);
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (status < 200 || status > 299) {
      const message =
        (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? text.slice(0, 300);
      throw Object.assign(new Error(message || `HTTP ${status}`), { code: status });
    }
    return (parsed ?? {}) as InsertAllResponse;
  }

  async query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    const [rows] = await this.bigquery.query({ query: sql, params, useLegacySql: false });
    return rows as T[];
  }
}

function withTimeout<T>(work: Promise<T>, ms: number | undefined): Promise<T> {
  if (!ms) return work;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`insertAll timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Classifies a failed insertAll request: too large (split it) or anything else (retry it). */
function requestError(table: string, error: unknown): WarehouseRequestError {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const status = typeof code === 'number' ? code : undefined;
  const text = typeof message === 'string' ? message : String(error);
  const tooLarge =
    status === 413 || (status === 400 && /too large|exceeds the limit|payload size/i.test(text));
  return new WarehouseRequestError(
    `insertAll into ${table} failed${status ? ` (${status})` : ''}: ${text}`,
    tooLarge ? 'too_large' : 'transient',
    status,
    { cause: error },
  );
}

function toBigQueryField(field: FieldSchema): Record<string, unknown> {
  return {
    name: field.name,
    type: field.type,
    mode: field.mode,
    ...(field.description ? { description: field.description } : {}),
    ...(field.fields ? { fields: field.fields.map(toBigQueryField) } : {}),
  };
}

/** The BigQuery table resource (schema, partitioning, clustering) for a table of the schema source. */
export function tableResource(table: TableSchema): Record<string, unknown> {
  return {
    description: table.description,
    schema: { fields: table.fields.map(toBigQueryField) },
    ...(table.partitionField ? { timePartitioning: { type: 'DAY', field: table.partitionField } } : {}),
    ...(table.clustering ? { clustering: { fields: [...table.clustering] } } : {}),
  };
}

/**
 * Creates the dataset, every table and every dedup view if missing (the local stack and tests;
 * in the cloud Terraform owns them). Idempotent and safe to run concurrently.
 */
export async function ensureWarehouse(bigquery: BigQuery, projectId: string, dataset: string): Promise<void> {
  const ds = bigquery.dataset(dataset);
  await ignoreExists(ds.create());
  for (const table of Object.values(TABLES) as TableSchema[]) {
    await ignoreExists(ds.createTable(table.name, tableResource(table)));
  }
  for (const table of Object.values(TABLES) as TableSchema[]) {
    if (!table.dedupKey) continue;
    const view = { view: { query: dedupViewSql(projectId, dataset, table), useLegacySql: false } };
    await ignoreExists(ds.createTable(dedupViewName(table.name as TableName), view));
  }
}

async function ignoreExists(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
}

/**
 * An auth client that adds no credentials: a local BigQuery stand-in needs none, and with it the client
 * never looks for Application Default Credentials or a token server, so it works offline.
 */
const noCredentials = { getRequestHeaders: async (): Promise<Headers> => new Headers() };

export interface BigQueryClientOptions {
  /**
   * Whether the client itself retries failed requests (5xx, 429, network; 3 times with backoff up to
   * 64 s). Default true. The writer turns it off: its own loop retries only the failed rows, within
   * a deadline below the push ack deadline.
   */
  readonly autoRetry?: boolean;
}

/**
 * A BigQuery client: with `endpoint` it talks to a local stand-in without credentials, otherwise to
 * BigQuery with Application Default Credentials.
 */
export function createBigQueryClient(
  projectId: string,
  endpoint?: string,
  options: BigQueryClientOptions = {},
): BigQuery {
  const retry = options.autoRetry === false ? { retryOptions: { autoRetry: false } } : {};
  if (!endpoint) return new BigQueryClient({ projectId, ...retry });
  return new BigQueryClient({
    projectId,
    apiEndpoint: endpoint,
    authClient: noCredentials as unknown as BigQueryOptions['authClient'],
    ...retry,
  });
}
