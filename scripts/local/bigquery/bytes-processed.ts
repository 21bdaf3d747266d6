/**
 * Bytes processed by a query, modelled on BigQuery's on-demand rules (docs/COST.md, "Query bytes"):
 * - every base table the query reads, directly or through views, counts once, and at least 10 MiB;
 * - of it, the columns whose name appears as a word in the query or in a view on the way (all of them
 *   when the query itself says `SELECT *` or `x.*`), at BigQuery's data sizes: INT64, FLOAT64, TIMESTAMP,
 *   DATE, DATETIME, TIME 8 B, BOOL 1, NUMERIC 16, BIGNUMERIC 32, STRING, JSON, GEOGRAPHY 2 + UTF-8 bytes,
 *   BYTES 2 + length, NULL 0, ARRAY and STRUCT the sum of their parts;
 * - only the day partitions that comparisons of the table's partitioning column with a named parameter
 *   or a TIMESTAMP literal select (`col >= @a`, `col < TIMESTAMP '...'`, `col BETWEEN @a AND @b`),
 *   written in the query or a view on the way; none when a view on the way has a window function
 *   not partitioned by that column (a `*_dedup` view), or when the query has an OR.
 * Not modelled: clustering (block pruning), LIMIT, the query cache, a filter that applies to only one
 * of two references to the same table (every filter on the column applies to every direct reference).
 */
import { BigQueryHttpError } from './errors.ts';
import type { QueryParameter } from './query-params.ts';
import { modeOf, quoteIdent, qualifiedName, type BqField, type BqType } from './schema-types.ts';
import { parseTimestampMicros } from './timestamp.ts';
import type { TableRecord, Warehouse } from './warehouse.ts';

export const MIN_BYTES_PER_TABLE = 10 * 1024 * 1024;
const DAY_MS = 86_400_000;
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

/** One way a query reaches a base table: the SQL texts on the way and whether filters can prune. */
interface Scan {
  readonly table: TableRecord;
  readonly texts: readonly string[];
  readonly prunable: boolean;
}

/** A day-aligned range of partitions `[fromMs, toMs)`; undefined = every partition. */
type PartitionRange = { fromMs: number; toMs: number } | undefined;

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

/** Per base table (`dataset.table`), the bytes of the columns and partitions `sql` reads, before the minimum. */
export async function scannedBytes(
  warehouse: Pick<Warehouse, 'getTable' | 'query'>,
  sql: string,
  params: readonly QueryParameter[] | undefined,
  defaultDataset: string | undefined,
): Promise<Map<string, number>> {
  const byTable = new Map<string, Scan[]>();
  for (const scan of await scansOf(warehouse, sql, [], true, defaultDataset, 0)) {
    const key = `${scan.table.datasetId}.${scan.table.tableId}`;
    byTable.set(key, [...(byTable.get(key) ?? []), scan]);
  }
  const readsAll = /\bSELECT\s+(DISTINCT\s+)?\*|\.\*/i.test(sql);
  const scanned = new Map<string, number>();
  for (const [key, scans] of byTable) {
    const table = scans[0]!.table;
    const words = new Set(scans.flatMap((s) => s.texts.join(' ').toLowerCase().match(/\w+/g) ?? []));
    const columns = table.schema.filter((f) => readsAll || words.has(f.name.toLowerCase()));
    scanned.set(
      key,
      await columnBytes(warehouse, table, columns, partitionRange(table, scans, params ?? [])),
    );
  }
  return scanned;
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

/** The base tables `sql` reads, following views. */
async function scansOf(
  warehouse: Pick<Warehouse, 'getTable'>,
  sql: string,
  outer: readonly string[],
  prunable: boolean,
  defaultDataset: string | undefined,
  depth: number,
): Promise<Scan[]> {
  const texts = [...outer, sql];
  const scans: Scan[] = [];
  for (const match of sql.matchAll(TABLE_REF_RE)) {
    const parts = match[1]!.replace(/`/g, '').split('.');
    const [datasetId, tableId] = parts.length >= 2 ? parts.slice(-2) : [defaultDataset, parts[0]];
    if (!datasetId || !tableId) continue;
    const table = await warehouse.getTable(datasetId, tableId).then(
      (found) => found.table,
      () => undefined,
    );
    if (!table) continue;
    if (table.type === 'TABLE') {
      scans.push({ table, texts, prunable });
      continue;
    }
    const viewSql = (table.resource.view as { query?: unknown } | undefined)?.query;
    if (typeof viewSql !== 'string' || depth >= MAX_VIEW_DEPTH) continue;
    const keys = windowPartitionKeys(viewSql);
    scans.push(
      ...(await scansOf(warehouse, viewSql, texts, prunable, datasetId, depth + 1)).map((scan) => ({
        ...scan,
        prunable: scan.prunable && keys.every((key) => wordIn(partitionField(scan.table), key)),
      })),
    );
  }
  return scans;
}

/** The PARTITION BY list of each window function in `sql` (empty for a window over all rows). */
function windowPartitionKeys(sql: string): string[] {
  return [...sql.matchAll(/\bOVER\s*\(([^)]*)\)/gi)].map(
    (w) => /\bPARTITION\s+BY\s+(.*?)(?:\bORDER\b|$)/is.exec(w[1]!)?.[1] ?? '',
  );
}

const wordIn = (word: string | undefined, text: string): boolean =>
  word !== undefined && new RegExp(`\\b${word}\\b`, 'i').test(text);

/** The partitions the scans select: every partition unless each scan bounds the partitioning column. */
function partitionRange(
  table: TableRecord,
  scans: readonly Scan[],
  params: readonly QueryParameter[],
): PartitionRange {
  const column = partitionField(table);
  if (!column) return undefined;
  let range: PartitionRange;
  for (const scan of scans) {
    const bounds = scan.prunable ? boundsOf(column, scan.texts, params) : undefined;
    if (!bounds) return undefined;
    range = range
      ? { fromMs: Math.min(range.fromMs, bounds.fromMs), toMs: Math.max(range.toMs, bounds.toMs) }
      : bounds;
  }
  return range;
}

/** The day partitions the comparisons on `column` in `texts` select, if they bound it on both sides. */
function boundsOf(
  column: string,
  texts: readonly string[],
  params: readonly QueryParameter[],
): PartitionRange {
  const text = texts.join('\n');
  if (/\bOR\b/i.test(text)) return undefined;
  const value = `(@\\w+|TIMESTAMP\\s*'[^']*')`;
  let from = -Infinity;
  let to = Infinity;
  for (const m of text.matchAll(new RegExp(`\\b${column}\\s*(>=|>|<=|<)\\s*${value}`, 'gi'))) {
    const at = valueMs(m[2]!, params);
    if (at === undefined) continue;
    if (m[1]!.startsWith('>')) from = Math.max(from, at);
    else to = Math.min(to, at);
  }
  for (const m of text.matchAll(new RegExp(`\\b${column}\\s+BETWEEN\\s+${value}\\s+AND\\s+${value}`, 'gi'))) {
    const [a, b] = [valueMs(m[1]!, params), valueMs(m[2]!, params)];
    if (a !== undefined) from = Math.max(from, a);
    if (b !== undefined) to = Math.min(to, b);
  }
  if (!Number.isFinite(from) || !Number.isFinite(to)) return undefined;
  return { fromMs: Math.floor(from / DAY_MS) * DAY_MS, toMs: (Math.floor(to / DAY_MS) + 1) * DAY_MS };
}

/** A TIMESTAMP literal or named TIMESTAMP parameter in ms. */
function valueMs(token: string, params: readonly QueryParameter[]): number | undefined {
  const raw = token.startsWith('@')
    ? params.find((p) => p.name?.toLowerCase() === token.slice(1).toLowerCase())?.parameterValue?.value
    : /'([^']*)'/.exec(token)?.[1];
  const micros = parseTimestampMicros(raw);
  return micros === undefined ? undefined : Number(micros / 1000n);
}

/** The data size of `columns` over the rows of the selected partitions. */
async function columnBytes(
  warehouse: Pick<Warehouse, 'query'>,
  table: TableRecord,
  columns: readonly BqField[],
  range: PartitionRange,
): Promise<number> {
  if (columns.length === 0) return 0;
  const size = columns.map((f) => fieldSize(f, quoteIdent(f.name), 0)).join(' + ');
  const column = partitionField(table);
  const where =
    range && column
      ? ` WHERE ${quoteIdent(column)} >= to_timestamp(${range.fromMs / 1000}) ` +
        `AND ${quoteIdent(column)} < to_timestamp(${range.toMs / 1000})`
      : '';
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
