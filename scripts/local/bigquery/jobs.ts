import type { DuckDBValue } from '@duckdb/node-api';
import { bytesBilled } from './bytes-processed.ts';
import type { BigQueryHttpError } from './errors.ts';
import type { BqField } from './schema-types.ts';

/** A finished query job: its rows are kept so getQueryResults can page through them. */
export interface JobRecord {
  projectId: string;
  jobId: string;
  location: string;
  configuration: Record<string, unknown>;
  statementType?: string;
  fields: BqField[];
  rows: DuckDBValue[][];
  numDmlAffectedRows?: number;
  /** What the stand-in's model of BigQuery's billing says the query processed. */
  totalBytesProcessed?: number;
  error?: BigQueryHttpError;
  /** jobs.query's requestId: a retried request gets the same job instead of running twice. */
  requestId?: string;
  creationTime: number;
  endTime: number;
}

/** Recent jobs, bounded by count and by rows held: the oldest are forgotten first. */
export class JobStore {
  readonly #jobs = new Map<string, JobRecord>();
  readonly #byRequestId = new Map<string, string>();
  #rowsHeld = 0;

  constructor(
    readonly maxJobs = 1000,
    readonly maxRowsHeld = 2_000_000,
  ) {}

  has(jobId: string): boolean {
    return this.#jobs.has(jobId);
  }

  get(jobId: string): JobRecord | undefined {
    return this.#jobs.get(jobId);
  }

  byRequestId(requestId: string): JobRecord | undefined {
    const jobId = this.#byRequestId.get(requestId);
    return jobId === undefined ? undefined : this.#jobs.get(jobId);
  }

  list(): JobRecord[] {
    return [...this.#jobs.values()].reverse();
  }

  add(job: JobRecord): void {
    this.#jobs.set(job.jobId, job);
    if (job.requestId) this.#byRequestId.set(job.requestId, job.jobId);
    this.#rowsHeld += job.rows.length;
    for (const id of this.#jobs.keys()) {
      if (this.#jobs.size <= this.maxJobs && this.#rowsHeld <= this.maxRowsHeld) break;
      if (id === job.jobId) break;
      this.delete(id);
    }
  }

  delete(jobId: string): boolean {
    const job = this.#jobs.get(jobId);
    if (!job) return false;
    this.#rowsHeld -= job.rows.length;
    if (job.requestId) this.#byRequestId.delete(job.requestId);
    return this.#jobs.delete(jobId);
  }
}

/** The jobs resource of a finished job, as jobs.get / jobs.insert return it. */
export function jobResource(job: JobRecord): Record<string, unknown> {
  const { projectId, jobId, location } = job;
  const status = job.error
    ? {
        state: 'DONE',
        errorResult: { reason: job.error.reason, message: job.error.message, location: 'query' },
        errors: [{ reason: job.error.reason, message: job.error.message, location: 'query' }],
      }
    : { state: 'DONE' };
  const processed = String(job.totalBytesProcessed ?? 0);
  const query: Record<string, unknown> = {
    statementType: job.statementType,
    totalBytesProcessed: processed,
    totalBytesBilled: String(bytesBilled(job.totalBytesProcessed ?? 0)),
    cacheHit: false,
  };
  if (job.numDmlAffectedRows !== undefined) query.numDmlAffectedRows = String(job.numDmlAffectedRows);
  if (job.fields.length > 0) query.schema = { fields: job.fields };
  return {
    kind: 'bigquery#job',
    etag: `"${jobId}"`,
    id: `${projectId}:${location}.${jobId}`,
    selfLink: `/bigquery/v2/projects/${projectId}/jobs/${jobId}?location=${location}`,
    user_email: 'standin@localhost',
    jobReference: { projectId, jobId, location },
    configuration: { ...job.configuration, jobType: 'QUERY' },
    status,
    statistics: {
      creationTime: String(job.creationTime),
      startTime: String(job.creationTime),
      endTime: String(job.endTime),
      totalBytesProcessed: processed,
      query,
    },
  };
}
