/**
 * Bytes processed by a query, modelled on BigQuery's on-demand rules (docs/COST.md, "Query bytes"):
 * - every base table the query reads, directly or through views, counts once, and at least 10 MiB;
 * - of it, the columns whose name appears as a word in the query or in a view on the way (all of them
 *   when the query itself says `SELECT *` or `x.*`), at BigQuery's data sizes: INT64, FLOAT64, TIMESTAMP,
 *   DATE, DATETIME, TIME 8 B, BOOL 1, NUMERIC 16, BIGNUMERIC 32, STRING, JSON, GEOGRAPHY 2 + UTF-8 bytes,
 *   BYTES 2 + length, NULL 0, ARRAY and STRUCT the sum of their parts;
 * - of its rows, those the filters that reach the table's scan select (pushdown.ts): the day partitions
 *   that comparisons of the partitioning column with a named parameter or a TIMESTAMP literal select
 *   (`col >= @a`, `col < TIMESTAMP '...'`, `col BETWEEN @a AND @b`), and the values of the leading
 *   clustering columns that equality filters name. A filter written above a view reaches the table
 *   only when every window function on the way partitions by its column; an OR prunes nothing.
 * Where a table is read by several references (UNION ALL branches, joins), each row of a column counts
 * once. A reference below a subquery or view whose select list names its columns (no `*`) reads only
 * the columns named from it up to that list, whatever the query above selects.
 * Not modelled: clustering blocks (BigQuery reads whole blocks, so it may read more rows than the model
 * counts, alike for a table and a view on it), LIMIT, the query cache.
 */
import { BigQueryHttpError } from './errors.ts';
import type { QueryParameter } from './query-params.ts';
import { inlineViews, scanCondition, through, unionBranches, windowKeys, type Layer } from './pushdown.ts';
import { modeOf, quoteIdent, qualifiedName, type BqField, type BqType } from './schema-types.ts';
import type { TableRecord, Warehouse } from './warehouse.ts';

export const MIN_BYTES_PER_TABLE = 10 * 1024 * 1024;
const MAX_VIEW_DEPTH = 8;

/** BigQuery's data size of a value of each fixed-size type. */
export const FIXED_BYTES: Partial<Record<BqType, number>> = {
  INTEGER: 8,
  FLOAT: 8,
  TIMESTAMP: 8,
  DATE: 8,
  DATETIME: 8,
  TIME: 8,
  BOOLEAN: 1,
  NUMERIC: 16,
  BIGNUMERIC: 32,
};

/** One way a query reaches a base table: the SQL texts on the way, each with the filters that reach it. */
interface Scan {
  readonly table: TableRecord;
  readonly layers: readonly Layer[];
}

/** `totalBytesProcessed` of `sql` (BigQuery text, before the stand-in rewrites it). */
export async function bytesProcessed(
  warehouse: Pick<Warehouse, 'getTable' | 'query'>,
  sql: string,
  params: readonly QueryParameter[] | undefined,
  defaultDataset: string | undefined,
): Promise<number> {
  const scanned = await scannedBytes(warehouse, sql, params, defaultDataset);
  return [...scanned.values()].reduce((sum, bytes) => sum + Math.max(MIN_BYTES_PER_TABLE, bytes), 0);
}

/** Per base table (`dataset.table`), the bytes of the columns and rows `sql` reads, before the minimum. */
export async function scannedBytes(
  warehouse: Pick<Warehouse, 'getTable' | 'query'>,
  sql: string,
  params: readonly QueryParameter[] | undefined,
  defaultDataset: string | undefined,
): Promise<Map<string, number>> {
  const byTable = new Map<string, Scan[]>();
  for (const scan of await scansOf(warehouse, sql, [], defaultDataset, 0)) {
    const key = `${scan.table.datasetId}.${scan.table.tableId}`;
    byTable.set(key, [...(byTable.get(key) ?? []), scan]);
  }
  const readsAll = /\bSELECT\s+(DISTINCT\s+)?\*|\.\*/i.test(sql);
  const scanned = new Map<string, number>();
  for (const [key, scans] of byTable) {
    const table = scans[0]!.table;
    const text = scans.flatMap((s) => s.layers.map((l) => l.text)).join(' ');
    const all = table.schema.filter((f) => readsAll || wordsOf(text).has(f.name.toLowerCase()));
    // Per column, the rows of the scans that read it.
    const conditions = new Map<BqField, (string | undefined)[]>();
    for (const scan of scans) {
      const named = namedColumns(scan.layers);
      const columns = named ? table.schema.filter((f) => named.has(f.name.toLowerCase())) : all;
      const condition = rowsRead(table, [scan], params ?? []);
      for (const field of columns) conditions.set(field, [...(conditions.get(field) ?? []), condition]);
    }
    const groups = new Map<string, { condition: string | undefined; columns: BqField[] }>();
    for (const [field, list] of conditions) {
      const condition = list.includes(undefined) ? undefined : [...new Set(list)].join(' OR ');
      const group = groups.get(condition ?? '') ?? { condition, columns: [] };
      group.columns.push(field);
      groups.set(condition ?? '', group);
    }
    let bytes = 0;
    for (const group of groups.values()) {
      bytes += await columnBytes(warehouse, table, group.columns, group.condition);
    }
    scanned.set(key, bytes);
  }
  return scanned;
}

const wordsOf = (text: string) => new Set(text.toLowerCase().match(/\w+/g) ?? []);

/**
 * The columns a scan reads when a layer below the query names them in its select list (no `*`): the
 * words of the layers from the scan up to the nearest such layer; undefined when every layer has a star.
 */
function namedColumns(layers: readonly Layer[]): Set<string> | undefined {
  const words: string[] = [];
  for (let i = layers.length - 1; i >= 1; i--) {
    const text = layers[i]!.text;
    words.push(text);
    if (!selectsStar(text)) return wordsOf(words.join(' '));
  }
  return undefined;
}

/** Whether the select list of a layer's text (up to its top-level FROM) has a `*` or `x.*`. */
function selectsStar(text: string): boolean {
  const start = /\bSELECT\b/i.exec(text);
  if (!start) return true;
  let depth = 0;
  for (let i = start.index + 6; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && c === '*') return true;
    else if (depth === 0 && /^FROM\b/i.test(text.slice(i, i + 5)) && /\W/.test(text[i - 1] ?? ' '))
      return false;
  }
  return true;
}

/** Bytes billed for `processed` bytes: rounded up to a whole MiB. */
export const bytesBilled = (processed: number): number => Math.ceil(processed / 1048576) * 1048576;

/** The error BigQuery answers when a query would bill more than maximumBytesBilled. */
export function checkBytesBilled(processed: number, maximumBytesBilled: unknown): void {
  if (maximumBytesBilled === undefined || maximumBytesBilled === null) return;
  const limit = Number(maximumBytesBilled);
  const billed = bytesBilled(processed);
  if (Number.isFinite(limit) && billed > limit) {
    throw new BigQueryHttpError(
      400,
      'bytesBilledLimitExceeded',
      `Query exceeded limit for bytes billed: ${limit}. ${billed} or higher required.`,
    );
  }
}

const TABLE_REF_RE = /\b(?:FROM|JOIN)\s+(`[^`]+`|[A-Za-z_][\w-]*(?:\.[A-Za-z_]\w*){0,2})(?![\w.-]|\s*\()/gi;

/** The column a table is partitioned by day on, if any. */
const partitionField = (table: TableRecord): string | undefined =>
  (table.resource.timePartitioning as { field?: string } | undefined)?.field;

/** The columns a table is clustered by, in order. */
const clusteringFields = (table: TableRecord): readonly string[] =>
  (table.resource.clustering as { fields?: string[] } | undefined)?.fields ?? [];

/** The base tables `sql` reads, following views, each with the filters that reach it. */
async function scansOf(
  warehouse: Pick<Warehouse, 'getTable'>,
  sql: string,
  outer: readonly Layer[],
  defaultDataset: string | undefined,
  depth: number,
): Promise<Scan[]> {
  const scans: Scan[] = [];
  for (const whole of unionBranches(sql)) {
    const { branch, subqueries } = inlineViews(whole);
    const layers = [...through(outer, windowKeys(branch)), { text: branch, reaches: 'all' as const }];
    for (const inner of subqueries) {
      scans.push(...(await scansOf(warehouse, inner, layers, defaultDataset, depth + 1)));
    }
    for (const match of branch.matchAll(TABLE_REF_RE)) {
      const parts = match[1]!.replace(/`/g, '').split('.');
      const [datasetId, tableId] = parts.length >= 2 ? parts.slice(-2) : [defaultDataset, parts[0]];
      if (!datasetId || !tableId) continue;
      const table = await warehouse.getTable(datasetId, tableId).then(
        (found) => found.table,
        () => undefined,
      );
      if (!table) continue;
      if (table.type === 'TABLE') {
        scans.push({ table, layers });
        continue;
      }
      const viewSql = (table.resource.view as { query?: unknown } | undefined)?.query;
      if (typeof viewSql !== 'string' || depth >= MAX_VIEW_DEPTH) continue;
      scans.push(...(await scansOf(warehouse, viewSql, layers, datasetId, depth + 1)));
    }
  }
  return scans;
}

/** The DuckDB condition on the rows the scans read together, or undefined for every row. */
function rowsRead(table: TableRecord, scans: readonly Scan[], params: readonly QueryParameter[]) {
  const conditions: string[] = [];
  for (const scan of scans) {
    const condition = scanCondition(scan.layers, partitionField(table), clusteringFields(table), params);
    if (condition === undefined) return undefined;
    conditions.push(`(${condition})`);
  }
  return conditions.join(' OR ');
}

/** The data size of `columns` over the rows `condition` selects (all of them when undefined). */
async function columnBytes(
  warehouse: Pick<Warehouse, 'query'>,
  table: TableRecord,
  columns: readonly BqField[],
  condition: string | undefined,
): Promise<number> {
  if (columns.length === 0) return 0;
  const size = columns.map((f) => fieldSize(f, quoteIdent(f.name), 0)).join(' + ');
  const where = condition === undefined ? '' : ` WHERE ${condition}`;
  const outcome = await warehouse.query(
    `SELECT COALESCE(SUM(${size}), 0) FROM ${qualifiedName(table.datasetId, table.tableId)}${where}`,
    undefined,
  );
  return Number(outcome.rows[0]?.[0] ?? 0);
}

/** DuckDB SQL for the data size of one value of `field` at `ref`. */
function fieldSize(field: BqField, ref: string, depth: number): string {
  if (modeOf(field) === 'REPEATED') {
    const x = `x${depth}`;
    const element = fieldSize({ ...field, mode: 'NULLABLE' }, x, depth + 1);
    return `COALESCE(list_sum(list_transform(${ref}, ${x} -> ${element})), 0)`;
  }
  if (field.type === 'RECORD') {
    const parts = (field.fields ?? []).map((f) => fieldSize(f, `${ref}.${quoteIdent(f.name)}`, depth));
    return parts.length > 0 ? `(${parts.join(' + ')})` : '0';
  }
  const fixed = FIXED_BYTES[field.type];
  const bytes =
    fixed !== undefined
      ? String(fixed)
      : field.type === 'BYTES'
        ? `2 + octet_length(${ref})`
        : `2 + strlen(CAST(${ref} AS VARCHAR))`;
  return `(CASE WHEN ${ref} IS NULL THEN 0 ELSE ${bytes} END)`;
}
