import { BigQuery as BigQueryClient, type BigQuery } from '@google-cloud/bigquery';
import type { DirectHttp } from './direct-http.ts';

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

/** The query as the client's query() takes it (maximumBytesBilled as a decimal string). */
export interface DirectQuery {
  readonly query: string;
  readonly params?: Record<string, unknown>;
  readonly useLegacySql: false;
  readonly maximumBytesBilled?: string;
}

/**
 * A query over jobs.query, polling getQueryResults until the job is complete and every page is read,
 * all within one deadline. Parameters and values are converted by the client's own code.
 */
export async function queryDirect<T>(
  bigquery: BigQuery,
  http: DirectHttp,
  query: DirectQuery,
  deadline: number,
): Promise<T[]> {
  const left = () => deadline - Date.now();
  const client = bigquery as unknown as QueryInternals;
  const request = client.buildQueryRequest_({ ...query }, {});
  if (!request) throw new Error('query not expressible as jobs.query');
  const base = await http.projectUrl();
  // BigQuery holds a jobs.query or getQueryResults call open up to timeoutMs waiting for the job.
  const wait = () => String(Math.max(1, Math.min(10_000, left())));
  const what = 'query';
  let response = (await http.send(
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
    response = (await http.send(
      'GET',
      `${base}/queries/${encodeURIComponent(job.jobId)}?${qs.toString()}`,
      undefined,
      left(),
      what,
    )) as QueryResponse;
  }
}
