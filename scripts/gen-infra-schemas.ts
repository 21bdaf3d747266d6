/**
 * Writes the BigQuery schema files Terraform loads (infra/modules/bigquery/schemas/) from the code's single
 * schema source, functions/core/contract/schema.ts (TABLES), through the same tableResource() the adapter uses:
 *
 * - `<table>.json`: the table's fields in BigQuery's JSON schema format (also usable with `bq mk --schema`);
 * - `tables.json`: per table its description, partitioning, clustering and dedup view (name and SQL with
 *   `{project}` and `{dataset}` placeholders that Terraform fills in).
 *
 * Run `npx tsx scripts/gen-infra-schemas.ts` after changing TABLES; `--check` only reports drift.
 * test/integration/infra.test.ts fails when the committed files differ from what this generates.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { tableResource, warehouseTables } from '../functions/adapters/bigquery/tables.ts';
import {
  dedupViewName,
  dedupViewSql,
  type TableName,
  type TableSchema,
} from '../functions/core/contract/schema.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_DIR = join(ROOT, 'infra/modules/bigquery/schemas');
export const CATALOGUE_FILE = 'tables.json';

/** Placeholders of the dedup view SQL; infra/modules/bigquery replaces them. */
export const PROJECT_PLACEHOLDER = '{project}';
export const DATASET_PLACEHOLDER = '{dataset}';

/** Every table Terraform creates: the code's single schema source (with the compacted `_settled` tables). */
export function infraTables(): TableSchema[] {
  return warehouseTables();
}

interface CatalogueEntry {
  description: string;
  timePartitioning?: unknown;
  clustering?: unknown;
  /** `compacted`: the compactor publishes the view's boundary, so Terraform creates it and leaves its SQL. */
  dedupView?: { name: string; query: string; compacted?: true };
}

/** The files of infra/modules/bigquery/schemas, keyed by file name, formatted as prettier would. */
export async function generateInfraSchemas(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const catalogue: Record<string, CatalogueEntry> = {};
  for (const table of infraTables()) {
    const { schema, ...rest } = tableResource(table) as unknown as {
      schema: { fields: unknown[] };
    } & CatalogueEntry;
    files.set(`${table.name}.json`, await pretty(`${table.name}.json`, schema.fields));
    catalogue[table.name] = {
      ...rest,
      ...(table.dedupKey
        ? {
            dedupView: {
              name: dedupViewName(table.name as TableName),
              query: dedupViewSql(PROJECT_PLACEHOLDER, DATASET_PLACEHOLDER, table),
              ...(table.settled ? { compacted: true as const } : {}),
            },
          }
        : {}),
    };
  }
  files.set(CATALOGUE_FILE, await pretty(CATALOGUE_FILE, catalogue));
  return files;
}

async function pretty(name: string, value: unknown): Promise<string> {
  const path = join(SCHEMA_DIR, name);
  const options = (await resolveConfig(path)) ?? {};
  return format(JSON.stringify(value, null, 2), { ...options, filepath: path });
}

/** Names of files that differ from (or are missing in, or extra to) the generated set. */
export async function schemaDrift(): Promise<string[]> {
  const wanted = await generateInfraSchemas();
  const present = existsSync(SCHEMA_DIR) ? readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json')) : [];
  const drift = present.filter((f) => !wanted.has(f));
  for (const [name, content] of wanted) {
    const path = join(SCHEMA_DIR, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== content) drift.push(name);
  }
  return drift.sort();
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  if (check) {
    const drift = await schemaDrift();
    if (drift.length > 0) {
      console.error(
        `schema files out of date: ${drift.join(', ')}; run npx tsx scripts/gen-infra-schemas.ts`,
      );
      process.exitCode = 1;
    }
    return;
  }
  mkdirSync(SCHEMA_DIR, { recursive: true });
  for (const [name, content] of await generateInfraSchemas()) {
    writeFileSync(join(SCHEMA_DIR, name), content);
    console.log(`wrote ${relative(ROOT, join(SCHEMA_DIR, name))}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
