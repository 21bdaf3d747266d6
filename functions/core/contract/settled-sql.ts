/**
 * The SQL of compacted dedup views (decisions/0028): for a table whose copies of one id may lie days
 * apart in the partitioning column (quotes, derivative tickers), the compactor merges each settled day
 * into `<table>_settled`, one row per id, and the view reads those days plus the unsettled tail.
 * Every query here lets a filter on time and symbol reach the tables' scans wherever it can: the wide
 * reads are windowed by the exact time, only narrow columns are windowed across days.
 */
import type { TableSchema } from './schema.ts';

const DAY_MS = 86_400_000;

/** The boundary of a view nothing has been compacted for yet: every row is in the tail. */
export const NOTHING_SETTLED = 0;
/**
 * The tail's upper bound. A no-op for BigQuery, which prunes a one-sided range too; the stand-in's bytes
 * model prunes only a range bounded on both sides, so without it the model would count every partition.
 */
const END_OF_TIME = Date.UTC(9999, 11, 31);

/** Name of the compacted table of `table`. */
export const settledTableName = (table: string): string => `${table}_settled`;

/** The compacted table's schema: the base table's columns, partitioning and clustering. */
export function settledTableSchema(table: TableSchema): TableSchema {
  return {
    name: settledTableName(table.name),
    description:
      `Settled days of ${table.name}, one row per ${table.dedupKey} (the compactor's partition ` +
      `merges); read ${table.name}_dedup, which adds the unsettled tail.`,
    fields: table.fields,
    ...(table.partitionField ? { partitionField: table.partitionField } : {}),
    ...(table.clustering ? { clustering: table.clustering } : {}),
  };
}

const ts = (ms: number) => `TIMESTAMP '${new Date(ms).toISOString()}'`;

interface Shape {
  base: string;
  settled: string;
  /** Columns every copy of an id shares, then the id. */
  keys: string[];
  time: string;
  lookaroundMs: number;
}

function shapeOf(projectId: string, dataset: string, table: TableSchema): Shape {
  if (!table.settled || !table.dedupKey || !table.partitionField) {
    throw new Error(`table ${table.name} is not compacted (settled, dedupKey and partitionField)`);
  }
  return {
    base: `\`${projectId}.${dataset}.${table.name}\``,
    settled: `\`${projectId}.${dataset}.${settledTableName(table.name)}\``,
    keys: [...(table.dedupShares ?? []), table.dedupKey],
    time: table.partitionField,
    lookaroundMs: table.settled.lookaroundDays * DAY_MS,
  };
}

/** The narrow columns that name one copy: the keys, its time and its ingestion time. */
const copyColumns = (s: Shape) => [...s.keys, s.time, 'ingested_at'].join(', ');

/**
 * Full rows of `s.base` in `[from, to)` that `kept` (a subquery of copy columns) names, one per exact
 * copy. The wide read is windowed by the exact time, so a time filter above it reaches the table.
 */
function keptRows(s: Shape, kept: string, from: number, to?: number): string {
  const t = (c: string) => `t.${c}`;
  const upper = to === undefined ? '' : ` AND t.${s.time} < ${ts(to)}`;
  return (
    `SELECT t.* FROM ${s.base} AS t JOIN (${kept}) AS k USING (${copyColumns(s)}) ` +
    `WHERE t.${s.time} >= ${ts(from)}${upper} ` +
    `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${[...s.keys.slice(0, -1), s.time, s.keys.at(-1)!].map(t).join(', ')} ` +
    `ORDER BY t.ingested_at, t.batch_id) = 1`
  );
}

/**
 * The dedup view: the settled days before `settledBefore` from the compacted table, then the tail's rows
 * whose id has no earlier ingested copy in the tail nor a compacted copy within the lookaround.
 */
export function settledViewSql(
  projectId: string,
  dataset: string,
  table: TableSchema,
  settledBefore: number,
): string {
  const s = shapeOf(projectId, dataset, table);
  const lookFrom = Math.max(NOTHING_SETTLED, settledBefore - s.lookaroundMs);
  const copies = copyColumns(s);
  const kept =
    `SELECT ${copies} FROM (` +
    `SELECT ${copies}, 1 AS settled FROM ${s.settled} ` +
    `WHERE ${s.time} >= ${ts(lookFrom)} AND ${s.time} < ${ts(settledBefore)} ` +
    `UNION ALL SELECT ${copies}, 0 AS settled FROM ${s.base} ` +
    `WHERE ${s.time} >= ${ts(settledBefore)} AND ${s.time} < ${ts(END_OF_TIME)}` +
    `) WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY ${s.keys.join(', ')} ` +
    `ORDER BY settled DESC, ingested_at, ${s.time}) = 1 AND settled = 0`;
  return (
    `SELECT * FROM ${s.settled} WHERE ${s.time} < ${ts(settledBefore)} ` +
    `UNION ALL ${keptRows(s, kept, settledBefore)}`
  );
}

/**
 * Replaces the compacted partition of the day starting at `dayStart` with the day's kept copies in one
 * statement (idempotent): the earliest ingested copy of each id among the base table's copies within the
 * lookaround, when it lies in the day.
 */
export function compactDaySql(
  projectId: string,
  dataset: string,
  table: TableSchema,
  dayStart: number,
): string {
  const s = shapeOf(projectId, dataset, table);
  const dayEnd = dayStart + DAY_MS;
  const kept =
    `SELECT ${copyColumns(s)} FROM ${s.base} ` +
    `WHERE ${s.time} >= ${ts(dayStart - s.lookaroundMs)} AND ${s.time} < ${ts(dayEnd + s.lookaroundMs)} ` +
    `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${s.keys.join(', ')} ORDER BY ingested_at, ${s.time}) = 1`;
  return (
    `MERGE ${s.settled} AS s USING (${keptRows(s, kept, dayStart, dayEnd)}) AS n ON FALSE ` +
    `WHEN NOT MATCHED BY SOURCE AND s.${s.time} >= ${ts(dayStart)} AND s.${s.time} < ${ts(dayEnd)} THEN DELETE ` +
    `WHEN NOT MATCHED THEN INSERT ROW`
  );
}

/** The boundary a compacted view's SQL publishes (what `settledViewSql` wrote), or undefined. */
export function settledBeforeOf(viewSql: string, table: TableSchema): number | undefined {
  const time = table.partitionField ?? '';
  const m = new RegExp(`_settled\` WHERE ${time} < TIMESTAMP '([^']+)' UNION ALL`).exec(viewSql);
  const at = m ? Date.parse(m[1]!) : NaN;
  return Number.isFinite(at) ? at : undefined;
}
