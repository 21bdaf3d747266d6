import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BigQuery as BigQueryClient, type BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';
import type { RowFailure, Warehouse, WarehouseRow } from '../../core/ports.ts';
import { isRetryableInsertReason } from '../../core/shared/retry.ts';
import { WarehouseRequestError } from '../../core/shared/warehouse-error.ts';
import {
  dedupViewName,
  dedupViewSql,
  TABLES,
  type FieldSchema,
  type TableName,
  type TableSchema,
} from '../../core/contract/schema.ts';

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
  /**
   * Deadline of one whole query (jobs.query plus any getQueryResults polls and pages). When set, queries
   * skip the client's request stack, whose own timeout is not enforced (teeny-request hands `timeout`
   * to node-fetch 3, which has no such option, so a hung query hangs its caller forever): they go to the
   * client's endpoint with its credentials and are aborted at the deadline. Unset: the client, no timeout.
   */
  readonly queryTimeoutMs?: number;
}

/** The parts of a jobs.query / getQueryResults answer the direct query path reads. */
interface QueryResponse {
  jobComplete?: boolean;
  jobReference?: { jobId?: string; location?: string };
  schema?: unknown;
  rows?: unknown[];
  pageToken?: string;
}

/** Client internals the direct query path reuses, so parameters and values mean what they mean to the client. */
interface QueryInternals {
  buildQueryRequest_(
    query: Record<string, unknown>,
    options: Record<string, unknown>,
  ):
    | (Record<string, unknown> & {
        formatOptions?: {
          timestampOutputFormat?:
            | 'TIMESTAMP_OUTPUT_FORMAT_UNSPECIFIED'
            | 'ISO8601_STRING'
            | 'INT64'
            | 'FLOAT64';
          useInt64Timestamp?: boolean;
        };
      })
    | undefined;
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
      if (this.options.transport === 'direct') {
        const url = `${await this.projectUrl()}/datasets/${encodeURIComponent(this.dataset)}/tables/${encodeURIComponent(table)}/insertAll`;
        response = (await this.send(
          'POST',
          url,
          body,
          this.options.requestTimeoutMs ?? 60_000,
          'insertAll',
        )) as InsertAllResponse;
      } else {
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

  /** The client's base URL for this project (resolving a `{{projectId}}` placeholder once). */
  private async projectUrl(): Promise<string> {
    const { bigquery } = this;
    const projectId = bigquery.projectId.includes('{{') ? await bigquery.getProjectId() : bigquery.projectId;
    return `${bigquery.baseUrl}/projects/${encodeURIComponent(projectId)}`;
  }

  /**
   * Sends one request to the client's endpoint with the client's credentials on a keep-alive agent, and
   * destroys it at `timeoutMs`: a deadline for the whole exchange, not an idle timeout, so a slow trickle
   * cannot outlast it. Resolves with the parsed JSON body of a 2xx answer; rejects with `code` = status.
   */
  private async send(
    method: 'GET' | 'POST',
    target: string,
    body: string | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<unknown> {
    const url = new URL(target);
    const headers: Record<string, string> = {};
    (await this.bigquery.authClient.getRequestHeaders(url.toString())).forEach((value, key) => {
      headers[key] = value;
    });
    headers['user-agent'] = `tickstream (${what} direct)`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const https = url.protocol === 'https:';
    this.agent ??= https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    const request = https ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      const timer = setTimeout(
        () => req.destroy(new Error(`${what} timed out after ${timeoutMs} ms`)),
        Math.max(0, timeoutMs),
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
    return parsed ?? {};
  }

  /**
   * A query over jobs.query, polling getQueryResults until the job is complete and every page is read,
   * all within one deadline. Parameters and values are converted by the client's own code.
   */
  private async queryDirect<T>(
    sql: string,
    params: Record<string, unknown> | undefined,
    deadline: number,
  ): Promise<T[]> {
    const left = () => deadline - Date.now();
    const client = this.bigquery as unknown as QueryInternals;
    const request = client.buildQueryRequest_({ query: sql, params, useLegacySql: false }, {});
    if (!request) throw new Error('query not expressible as jobs.query');
    const base = await this.projectUrl();
    // BigQuery holds a jobs.query or getQueryResults call open up to timeoutMs waiting for the job.
    const wait = () => String(Math.max(1, Math.min(10_000, left())));
    const what = 'query';
    let response = (await this.send(
      'POST',
      `${base}/queries`,
      JSON.stringify({ ...request, timeoutMs: Number(wait()) }),
      left(),
      what,
    )) as QueryResponse;
    const listParams = {
      'formatOptions.timestampOutputFormat': request.formatOptions?.timestampOutputFormat,
      'formatOptions.useInt64Timestamp': request.formatOptions?.useInt64Timestamp,
    };
    let schema = response.schema;
    const rows: T[] = [];
    for (;;) {
      schema = response.schema ?? schema;
      if (response.jobComplete && response.rows) {
        rows.push(
          ...(BigQueryClient.mergeSchemaWithRows_(
            schema as Parameters<typeof BigQueryClient.mergeSchemaWithRows_>[0],
            response.rows as Parameters<typeof BigQueryClient.mergeSchemaWithRows_>[1],
            { wrapIntegers: false, parseJSON: false, listParams },
          ) as T[]),
        );
      }
      if (response.jobComplete && !response.pageToken) return rows;
      const job = response.jobReference;
      if (!job?.jobId) throw new Error('jobs.query answered without a job reference');
      const qs = new URLSearchParams({ timeoutMs: wait() });
      if (job.location) qs.set('location', job.location);
      if (response.jobComplete && response.pageToken) qs.set('pageToken', response.pageToken);
      for (const [key, value] of Object.entries(listParams))
        if (value !== undefined) qs.set(key, String(value));
      if (left() <= 0) throw new Error(`${what} timed out`);
      response = (await this.send(
        'GET',
        `${base}/queries/${encodeURIComponent(job.jobId)}?${qs.toString()}`,
        undefined,
        left(),
        what,
      )) as QueryResponse;
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    const timeoutMs = this.options.queryTimeoutMs;
    if (timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      try {
        return await this.queryDirect<T>(sql, params, deadline);
      } catch (error) {
        // Name the query's own timeout, not what was left of it for the request that hit it.
        if (Date.now() < deadline) throw error;
        throw new Error(`query timed out after ${timeoutMs} ms`, { cause: error });
      }
    }
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
