import { BigQuery as BigQueryClient, type BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';
import type { RowFailure, Warehouse, WarehouseRow } from '../core/ports.ts';
import { isRetryableInsertReason } from '../core/retry.ts';
import {
  dedupViewName,
  dedupViewSql,
  TABLES,
  type FieldSchema,
  type TableName,
  type TableSchema,
} from '../core/schema.ts';

interface PartialFailure {
  row: unknown;
  errors?: { reason?: string; message?: string }[];
}

/** The Warehouse port on BigQuery's streaming insert (insertAll) and query APIs. */
export class BigQueryWarehouse implements Warehouse {
  constructor(
    private readonly bigquery: BigQuery,
    private readonly dataset: string,
  ) {}

  async insert(table: TableName, rows: readonly WarehouseRow[]): Promise<RowFailure[]> {
    if (rows.length === 0) return [];
    const raw = rows.map((row) => ({ insertId: row.insertId, json: row.json }));
    try {
      // skipInvalidRows: valid rows go in even when a neighbour is invalid; retries are ours to decide.
      await this.bigquery
        .dataset(this.dataset)
        .table(table)
        .insert(raw, { raw: true, skipInvalidRows: true, partialRetries: 0 });
      return [];
    } catch (error) {
      if (!isPartialFailure(error)) throw error;
      const index = new Map<unknown, number>(raw.map((row, i) => [row, i]));
      const failures: RowFailure[] = [];
      for (const failure of error.errors) {
        const i = index.get(failure.row);
        if (i === undefined) continue;
        const first = failure.errors?.find((e) => e.reason !== 'stopped') ?? failure.errors?.[0];
        const reason = first?.reason ?? 'unknown';
        failures.push({
          index: i,
          reason,
          message: first?.message ?? '',
          retryable: isRetryableInsertReason(reason),
        });
      }
      return failures;
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    const [rows] = await this.bigquery.query({ query: sql, params, useLegacySql: false });
    return rows as T[];
  }
}

function isPartialFailure(error: unknown): error is { errors: PartialFailure[] } {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: string }).name === 'PartialFailureError' &&
    Array.isArray((error as { errors?: unknown }).errors)
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

/**
 * A BigQuery client: with `endpoint` it talks to a local stand-in without credentials, otherwise to
 * BigQuery with Application Default Credentials.
 */
export function createBigQueryClient(projectId: string, endpoint?: string): BigQuery {
  if (!endpoint) return new BigQueryClient({ projectId });
  return new BigQueryClient({
    projectId,
    apiEndpoint: endpoint,
    authClient: noCredentials as unknown as BigQueryOptions['authClient'],
  });
}
