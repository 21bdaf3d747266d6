import { randomUUID } from 'node:crypto';
import { bytesProcessed, checkBytesBilled } from './bytes-processed.ts';
import { BigQueryHttpError, invalid, invalidQuery } from './errors.ts';
import type { JobRecord, JobStore } from './jobs.ts';
import { toDuckParams, type QueryParameter } from './query-params.ts';
import { encodeRows, type TimestampFormat } from './rows-format.ts';
import { qualifiedName } from './schema-types.ts';
import { rewriteSql } from './sql-rewrite.ts';
import type { Warehouse } from './warehouse.ts';

/** The query part of a jobs.query body or of a jobs.insert configuration.query. */
export interface QuerySpec {
  query?: unknown;
  useLegacySql?: unknown;
  queryParameters?: QueryParameter[];
  parameterMode?: string;
  defaultDataset?: { datasetId?: string; projectId?: string };
  destinationTable?: { datasetId?: string; tableId?: string; projectId?: string };
  writeDisposition?: string;
  maximumBytesBilled?: unknown;
}

export interface QueryDeps {
  warehouse: Warehouse;
  jobs: JobStore;
  projectIds: readonly string[];
}

/** Default page size when the request sets no maxResults. */
const DEFAULT_PAGE_ROWS = 100_000;

/** Wraps a SELECT so its rows land in destinationTable, as writeDisposition asks. */
async function toDestination(deps: QueryDeps, spec: QuerySpec, sql: string): Promise<string> {
  const { datasetId, tableId } = spec.destinationTable ?? {};
  if (!datasetId || !tableId) throw invalid('destinationTable needs datasetId and tableId');
  const name = qualifiedName(datasetId, tableId);
  const existing = await deps.warehouse.getTable(datasetId, tableId).catch((error: unknown) => {
    if (error instanceof BigQueryHttpError && error.code === 404) return undefined;
    throw error;
  });
  const disposition = spec.writeDisposition ?? 'WRITE_EMPTY';
  if (existing && disposition === 'WRITE_APPEND') return `INSERT INTO ${name} ${sql}`;
  if (existing && disposition === 'WRITE_EMPTY' && (existing.numRows ?? 0) > 0) {
    throw new BigQueryHttpError(
      409,
      'duplicate',
      `Already Exists: Table ${datasetId}.${tableId} is not empty`,
    );
  }
  return `CREATE OR REPLACE TABLE ${name} AS ${sql}`;
}

/**
 * Runs one query to completion and records it as a job. With `throwOnError` a bad query is raised
 * (jobs.query answers 400); otherwise the job is stored as DONE with an errorResult (jobs.insert).
 */
export async function runQueryJob(
  deps: QueryDeps,
  spec: QuerySpec,
  ids: { projectId: string; jobId?: string; location?: string; requestId?: string },
  configuration: Record<string, unknown>,
  throwOnError: boolean,
): Promise<JobRecord> {
  const creationTime = Date.now();
  const job: JobRecord = {
    projectId: ids.projectId,
    jobId: ids.jobId ?? `job_${randomUUID().replace(/-/g, '')}`,
    location: ids.location ?? 'US',
    configuration,
    requestId: ids.requestId,
    fields: [],
    rows: [],
    creationTime,
    endTime: creationTime,
  };
  try {
    job.totalBytesProcessed = await queryBytes(deps, spec);
    checkBytesBilled(job.totalBytesProcessed, spec.maximumBytesBilled);
    const rewritten = rewriteSql(spec.query as string, { projectIds: [...deps.projectIds, ids.projectId] });
    const params = toDuckParams(spec.queryParameters, spec.parameterMode, rewritten);
    const sql = spec.destinationTable ? await toDestination(deps, spec, rewritten.sql) : rewritten.sql;
    const outcome = await deps.warehouse.query(sql, params, spec.defaultDataset?.datasetId);
    job.statementType = outcome.statementType;
    job.fields = outcome.fields;
    job.rows = outcome.rows;
    job.numDmlAffectedRows = outcome.numDmlAffectedRows;
    if (spec.destinationTable?.datasetId && spec.destinationTable.tableId) {
      const { datasetId, tableId } = spec.destinationTable;
      const page = await deps.warehouse.readRows(datasetId, tableId, 0, Number.MAX_SAFE_INTEGER);
      job.statementType = 'SELECT';
      job.fields = page.fields;
      job.rows = page.rows;
      job.numDmlAffectedRows = undefined;
    }
  } catch (error) {
    if (throwOnError || !(error instanceof BigQueryHttpError)) throw error;
    job.error = error;
  } finally {
    job.endTime = Date.now();
  }
  deps.jobs.add(job);
  return job;
}

/** The bytes the query would process (the stand-in's model); DDL processes none. */
export async function queryBytes(deps: QueryDeps, spec: QuerySpec): Promise<number> {
  if (typeof spec.query !== 'string' || spec.query.trim() === '') throw invalid('Query text is required');
  if (spec.useLegacySql === true) throw invalidQuery('Legacy SQL is not supported by the BigQuery stand-in');
  if (/^\s*(CREATE|DROP|ALTER)\b/i.test(spec.query)) return 0;
  return bytesProcessed(deps.warehouse, spec.query, spec.queryParameters, spec.defaultDataset?.datasetId);
}

export interface PageRequest {
  maxResults?: number;
  startIndex?: number;
  pageToken?: string;
  timestampFormat: TimestampFormat;
}

/** The body of jobs.query / jobs.getQueryResults for one page of a finished job. */
export function queryResponse(job: JobRecord, page: PageRequest, kind: string): Record<string, unknown> {
  if (job.error) throw job.error;
  const offset = page.pageToken !== undefined ? Number(page.pageToken) : (page.startIndex ?? 0);
  if (!Number.isInteger(offset) || offset < 0) throw invalid(`Invalid page token: ${page.pageToken}`);
  const size = page.maxResults ?? DEFAULT_PAGE_ROWS;
  const slice = job.rows.slice(offset, offset + size);
  const response: Record<string, unknown> = {
    kind,
    etag: `"${job.jobId}"`,
    jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
    totalRows: String(job.rows.length),
    jobComplete: true,
    totalBytesProcessed: String(job.totalBytesProcessed ?? 0),
    cacheHit: false,
  };
  if (job.fields.length > 0) {
    response.schema = { fields: job.fields };
    response.rows = encodeRows(job.fields, slice, page.timestampFormat);
  }
  if (offset + size < job.rows.length) response.pageToken = String(offset + size);
  if (job.numDmlAffectedRows !== undefined) {
    response.numDmlAffectedRows = String(job.numDmlAffectedRows);
    response.totalRows = '0';
  }
  return response;
}
