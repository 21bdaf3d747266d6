import type { BigQuery } from '@google-cloud/bigquery';
import {
  dedupViewName,
  dedupViewSql,
  TABLES,
  type FieldSchema,
  type TableName,
  type TableSchema,
} from '../../core/contract/schema.ts';
import { settledTableSchema } from '../../core/contract/settled-sql.ts';

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

/** Every table of the warehouse: TABLES and the compacted `<table>_settled` of those with `settled`. */
export function warehouseTables(): TableSchema[] {
  const tables = Object.values(TABLES) as TableSchema[];
  return [...tables, ...tables.filter((t) => t.settled).map(settledTableSchema)];
}

/**
 * Creates the dataset, every table and every dedup view if missing (the local stack and tests;
 * in the cloud Terraform owns them). Idempotent and safe to run concurrently.
 */
export async function ensureWarehouse(bigquery: BigQuery, projectId: string, dataset: string): Promise<void> {
  const ds = bigquery.dataset(dataset);
  await ignoreExists(ds.create());
  for (const table of warehouseTables()) {
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
