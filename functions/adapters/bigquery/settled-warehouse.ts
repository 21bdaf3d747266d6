/**
 * The compactor's BigQuery side (decisions/0028): partition merges into `<table>_settled` (one MERGE a
 * day), the boundary read from and published in the `<table>_dedup` view's SQL (tables.get / patch),
 * and the two small reads that plan a run. Every statement bounds the partitions it reads.
 */
import type { BigQuery } from '@google-cloud/bigquery';
import type { SettledWarehouse } from '../../core/compaction/compact.ts';
import { DAY_MS } from '../../core/compaction/plan.ts';
import {
  dedupViewName,
  dedupViewSql,
  TABLE_FOR_TYPE,
  TABLES,
  type TableName,
  type TableSchema,
} from '../../core/contract/schema.ts';
import { compactDaySql, settledBeforeOf } from '../../core/contract/settled-sql.ts';

/** How far back of the boundary a filled gap may start (the gap-filler looks back at most 30 days). */
const GAP_AGE_MS = 31 * DAY_MS;

const ts = (ms: number) => `TIMESTAMP '${new Date(ms).toISOString()}'`;

export interface SettledWarehouseOptions {
  /** maximumBytesBilled of every statement: BigQuery refuses one that would bill more. */
  readonly maxBytesBilled: number;
  /** jobTimeoutMs of every statement: BigQuery cancels a job that runs longer. */
  readonly jobTimeoutMs: number;
}

export class BigQuerySettledWarehouse implements SettledWarehouse {
  constructor(
    private readonly bigquery: BigQuery,
    private readonly projectId: string,
    private readonly dataset: string,
    private readonly options: SettledWarehouseOptions,
  ) {}

  async settledBefore(table: string): Promise<number | undefined> {
    const [metadata] = await this.bigquery
      .dataset(this.dataset)
      .table(dedupViewName(table as TableName))
      .getMetadata();
    const query = (metadata as { view?: { query?: string } }).view?.query ?? '';
    const at = settledBeforeOf(query, this.schema(table));
    return at === undefined || at <= 0 ? undefined : at;
  }

  async firstTime(table: string): Promise<number | undefined> {
    const schema = this.schema(table);
    const rows = await this.query(
      `SELECT MIN(${schema.partitionField}) AS first FROM \`${this.projectId}.${this.dataset}.${table}\``,
    );
    return timeOf(rows[0]?.first);
  }

  async filledGapStarts(table: string, since: number): Promise<number[]> {
    const type = Object.entries(TABLE_FOR_TYPE).find(([, t]) => t === table)?.[0];
    if (type === undefined) return [];
    const rows = await this.query(
      `SELECT DISTINCT gap_from FROM \`${this.projectId}.${this.dataset}.gaps\` ` +
        `WHERE gap_from >= ${ts(since - GAP_AGE_MS)} AND data_type = '${type}' ` +
        `AND state = 'filled' AND updated_at >= ${ts(since)}`,
    );
    return rows.map((r) => timeOf(r.gap_from)).filter((t): t is number => t !== undefined);
  }

  async compactDay(table: string, dayStart: number): Promise<{ rows: number }> {
    const sql = compactDaySql(this.projectId, this.dataset, this.schema(table), dayStart);
    const [job] = await this.bigquery.createQueryJob({
      query: sql,
      maximumBytesBilled: String(this.options.maxBytesBilled),
      jobTimeoutMs: this.options.jobTimeoutMs,
    });
    await job.getQueryResults();
    const [metadata] = await job.getMetadata();
    const stats = (metadata as { statistics?: { query?: { numDmlAffectedRows?: string } } }).statistics;
    return { rows: Number(stats?.query?.numDmlAffectedRows ?? 0) };
  }

  async publish(table: string, settledBefore: number): Promise<void> {
    const query = dedupViewSql(this.projectId, this.dataset, this.schema(table), settledBefore);
    await this.bigquery
      .dataset(this.dataset)
      .table(dedupViewName(table as TableName))
      .setMetadata({ view: { query, useLegacySql: false } });
  }

  private schema(table: string): TableSchema {
    const schema = (TABLES as Record<string, TableSchema>)[table];
    if (!schema?.settled) throw new Error(`table ${table} is not compacted`);
    return schema;
  }

  private async query(sql: string): Promise<Record<string, unknown>[]> {
    const [rows] = await this.bigquery.query({
      query: sql,
      maximumBytesBilled: String(this.options.maxBytesBilled),
      jobTimeoutMs: this.options.jobTimeoutMs,
    });
    return rows as Record<string, unknown>[];
  }
}

/** A TIMESTAMP as the client returns it ({ value } or a string), in ms. */
function timeOf(value: unknown): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = typeof value === 'object' && 'value' in value ? String(value.value) : String(value);
  const at = Date.parse(text);
  return Number.isFinite(at) ? at : undefined;
}
