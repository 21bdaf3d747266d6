import type { BigQuery } from '@google-cloud/bigquery';
import type { RowFailure, Warehouse, WarehouseRow } from '../../core/ports.ts';
import { isRetryableInsertReason } from '../../core/shared/retry.ts';
import { WarehouseRequestError } from '../../core/shared/warehouse-error.ts';
import type { TableName } from '../../core/contract/schema.ts';
import { DirectHttp } from './direct-http.ts';
import { queryDirect, type DirectQuery } from './direct-query.ts';

interface InsertAllResponse {
  insertErrors?: { index?: number; errors?: { reason?: string; message?: string }[] }[];
}

export interface BigQueryWarehouseOptions {
  /** Timeout of one insertAll request (default: none for `client`, whose own 60 s is not enforced; 60 s for `direct`). */
  readonly requestTimeoutMs?: number;
  /**
   * How insertAll requests travel. `client` (default): through the client's request stack, with its
   * retry settings. `direct`: the client's endpoint and credentials, but sent with Node's HTTP agent
   * (keep-alive), never retried: the client's request stack is the costlier path (see docs/PERFORMANCE.md).
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

/** Per-query options beyond the Warehouse port. */
export interface QueryOptions {
  readonly maximumBytesBilled?: number;
}

/** The Warehouse port on BigQuery's streaming insert (insertAll) and query APIs. */
export class BigQueryWarehouse implements Warehouse {
  private readonly http: DirectHttp;

  constructor(
    private readonly bigquery: BigQuery,
    private readonly dataset: string,
    private readonly options: BigQueryWarehouseOptions = {},
  ) {
    this.http = new DirectHttp(bigquery);
  }

  async insert(table: TableName, rows: readonly WarehouseRow[]): Promise<RowFailure[]> {
    if (rows.length === 0) return [];
    // The body is serialized here once: Table#insert deep-copies every row and the client walks every
    // value of a `json` body looking for project id tokens (see docs/PERFORMANCE.md).
    // skipInvalidRows: valid rows go in even when a neighbour is invalid; retries are ours to decide.
    const body = JSON.stringify({
      skipInvalidRows: true,
      rows: rows.map((row) => ({ insertId: row.insertId, json: row.json })),
    });
    let response: InsertAllResponse;
    try {
      if (this.options.transport === 'direct') {
        const url = `${await this.http.projectUrl()}/datasets/${encodeURIComponent(this.dataset)}/tables/${encodeURIComponent(table)}/insertAll`;
        response = (await this.http.send(
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

  /** `maximumBytesBilled`: BigQuery refuses the query, unrun, if it would bill more. */
  async query<T = Record<string, unknown>>(
    sql: string,
    params?: Record<string, unknown>,
    options: QueryOptions = {},
  ): Promise<T[]> {
    const request: DirectQuery = {
      query: sql,
      params,
      useLegacySql: false,
      ...(options.maximumBytesBilled === undefined
        ? {}
        : { maximumBytesBilled: String(options.maximumBytesBilled) }),
    };
    const timeoutMs = this.options.queryTimeoutMs;
    if (timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      try {
        return await queryDirect<T>(this.bigquery, this.http, request, deadline);
      } catch (error) {
        // Name the query's own timeout, not what was left of it for the request that hit it.
        if (Date.now() < deadline) throw error;
        throw new Error(`query timed out after ${timeoutMs} ms`, { cause: error });
      }
    }
    const [rows] = await this.bigquery.query(request);
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
