/**
 * Which filters of a query reach a base table's scan, for the bytes model (bytes-processed.ts): the
 * filters written in the SQL that reads the table, and those of every query above it whose column a
 * window function on the way partitions by. A window computes within its partitions, so a filter that
 * keeps or drops whole partitions gives the same rows before or after it: optimizers push exactly those
 * below it and no other (docs/decisions/0027-affordable-dedup-views.md cites the rule).
 */
import type { QueryParameter } from './query-params.ts';
import { quoteIdent } from './schema-types.ts';
import { parseTimestampMicros } from './timestamp.ts';

const DAY_MS = 86_400_000;

/** One SQL text on the way to a base table, and the columns whose filters in it reach the table. */
export interface Layer {
  readonly text: string;
  /** `all`: the text reads the table itself (its WHERE is below any window it computes). */
  readonly reaches: ReadonlySet<string> | 'all';
}

/** A day-aligned range of partitions `[fromMs, toMs)`; undefined = every partition. */
export type PartitionRange = { fromMs: number; toMs: number } | undefined;

/** The branches of `sql` joined by a top-level UNION ALL (each reads its tables on its own). */
export function unionBranches(sql: string): string[] {
  const branches: string[] = [];
  let depth = 0;
  let start = 0;
  const re = /[()]|\bUNION\s+ALL\b/gi;
  for (const m of sql.matchAll(re)) {
    if (m[0] === '(') depth++;
    else if (m[0] === ')') depth--;
    else if (depth === 0) {
      branches.push(sql.slice(start, m.index));
      start = m.index + m[0].length;
    }
  }
  branches.push(sql.slice(start));
  return branches;
}

/**
 * `branch` with each `FROM (subquery)` / `JOIN (subquery)` cut out, and the subqueries: each reads its
 * tables below the branch, like a view, so the branch's filters reach them only through their windows.
 */
export function inlineViews(branch: string): { branch: string; subqueries: string[] } {
  const subqueries: string[] = [];
  let rest = branch;
  for (let m = /\b(?:FROM|JOIN)\s*\(/i.exec(rest); m; m = /\b(?:FROM|JOIN)\s*\(/i.exec(rest)) {
    const start = m.index + m[0].length;
    const inner = balanced(rest, start);
    subqueries.push(inner);
    rest = `${rest.slice(0, m.index)}${m[0].slice(0, -1).trimEnd()} __inline_view__${rest.slice(start + inner.length + 1)}`;
  }
  return { branch: rest, subqueries };
}

/**
 * The columns every window function of `branch` partitions by (lower case), or undefined when it has
 * none. Only a bare column counts: `PARTITION BY DATE(ts)` does not let a filter on `ts` through.
 */
export function windowKeys(branch: string): ReadonlySet<string> | undefined {
  let keys: Set<string> | undefined;
  for (const m of branch.matchAll(/\bOVER\s*\(/gi)) {
    const body = balanced(branch, m.index + m[0].length);
    const list = /^\s*PARTITION\s+BY\s+([\s\S]*?)(?:\bORDER\s+BY\b|\bROWS\b|\bRANGE\b|$)/i.exec(body)?.[1];
    const bare = new Set(
      (list === undefined ? [] : topLevelItems(list))
        .map((item) => /^(?:`?\w+`?\.)*`?(\w+)`?$/.exec(item.trim())?.[1]?.toLowerCase())
        .filter((name): name is string => name !== undefined),
    );
    keys = keys === undefined ? bare : new Set([...keys].filter((k) => bare.has(k)));
  }
  return keys;
}

/** The layers as seen from below a branch with window keys `keys`. */
export function through(layers: readonly Layer[], keys: ReadonlySet<string> | undefined): Layer[] {
  if (keys === undefined) return [...layers];
  return layers.map((layer) => ({
    text: layer.text,
    reaches: layer.reaches === 'all' ? keys : new Set([...layer.reaches].filter((c) => keys.has(c))),
  }));
}

/** The texts whose filters on `column` reach the table. */
function textsFor(layers: readonly Layer[], column: string): string[] {
  const name = column.toLowerCase();
  return layers.filter((l) => l.reaches === 'all' || l.reaches.has(name)).map((l) => l.text);
}

/**
 * The DuckDB condition selecting the rows one scan reads, or undefined for every row: the day
 * partitions the comparisons of the partitioning column select, and the values of the leading
 * clustering columns that equality filters name (`= 'x'`, `= @p`, `IN ('x', 'y')`, `IN UNNEST(@p)`).
 */
export function scanCondition(
  layers: readonly Layer[],
  partitionColumn: string | undefined,
  clustering: readonly string[],
  params: readonly QueryParameter[],
): string | undefined {
  const parts: string[] = [];
  if (partitionColumn) {
    const range = boundsOf(partitionColumn, textsFor(layers, partitionColumn), params);
    if (range) {
      const col = quoteIdent(partitionColumn);
      parts.push(
        `${col} >= to_timestamp(${range.fromMs / 1000}) AND ${col} < to_timestamp(${range.toMs / 1000})`,
      );
    }
  }
  for (const column of clustering) {
    const values = clusterValues(column, textsFor(layers, column), params);
    if (values === undefined) break;
    parts.push(
      values.length === 0
        ? 'FALSE'
        : `${quoteIdent(column)} IN (${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ')})`,
    );
  }
  return parts.length === 0 ? undefined : parts.join(' AND ');
}

/** The day partitions the comparisons on `column` in `texts` select, if they bound it on both sides. */
export function boundsOf(
  column: string,
  texts: readonly string[],
  params: readonly QueryParameter[],
): PartitionRange {
  const text = texts.join('\n');
  if (/\bOR\b/i.test(text)) return undefined;
  const value = `(@\\w+|TIMESTAMP\\s*'[^']*')`;
  let from = -Infinity;
  // The end of the last partition read: a bound `< t` needs t's partition only when t is past its midnight.
  let toMs = Infinity;
  const end = (at: number, strict: boolean) =>
    strict ? Math.ceil(at / DAY_MS) * DAY_MS : (Math.floor(at / DAY_MS) + 1) * DAY_MS;
  for (const m of text.matchAll(new RegExp(`\\b${column}\\s*(>=|>|<=|<)\\s*${value}`, 'gi'))) {
    const at = valueMs(m[2]!, params);
    if (at === undefined) continue;
    if (m[1]!.startsWith('>')) from = Math.max(from, at);
    else toMs = Math.min(toMs, end(at, m[1] === '<'));
  }
  for (const m of text.matchAll(new RegExp(`\\b${column}\\s+BETWEEN\\s+${value}\\s+AND\\s+${value}`, 'gi'))) {
    const [a, b] = [valueMs(m[1]!, params), valueMs(m[2]!, params)];
    if (a !== undefined) from = Math.max(from, a);
    if (b !== undefined) toMs = Math.min(toMs, end(b, false));
  }
  if (!Number.isFinite(from) || !Number.isFinite(toMs)) return undefined;
  return {
    fromMs: Math.floor(from / DAY_MS) * DAY_MS,
    toMs: Math.max(toMs, Math.floor(from / DAY_MS) * DAY_MS),
  };
}

/** The values equality filters on `column` allow (their intersection), or undefined when none does. */
function clusterValues(
  column: string,
  texts: readonly string[],
  params: readonly QueryParameter[],
): string[] | undefined {
  const text = texts.join('\n');
  if (/\bOR\b/i.test(text)) return undefined;
  let allowed: string[] | undefined;
  const narrow = (values: string[] | undefined) => {
    if (values === undefined) return;
    allowed = allowed === undefined ? values : allowed.filter((v) => values.includes(v));
  };
  for (const m of text.matchAll(new RegExp(`\\b${column}\\s*=\\s*('[^']*'|@\\w+)`, 'gi'))) {
    narrow(m[1]!.startsWith('@') ? paramStrings(m[1]!, params) : [m[1]!.slice(1, -1)]);
  }
  for (const m of text.matchAll(new RegExp(`\\b${column}\\s+IN\\s*\\(([^()]*)\\)`, 'gi'))) {
    const items = topLevelItems(m[1]!).map((item) => /^\s*'([^']*)'\s*$/.exec(item)?.[1]);
    if (items.every((v) => v !== undefined)) narrow(items as string[]);
  }
  for (const m of text.matchAll(new RegExp(`\\b${column}\\s+IN\\s+UNNEST\\s*\\(\\s*(@\\w+)\\s*\\)`, 'gi'))) {
    narrow(paramStrings(m[1]!, params));
  }
  return allowed;
}

/** The string values of a named STRING or ARRAY<STRING> parameter, or undefined when it has none. */
function paramStrings(token: string, params: readonly QueryParameter[]): string[] | undefined {
  const param = params.find((p) => p.name?.toLowerCase() === token.slice(1).toLowerCase());
  const value = param?.parameterValue;
  if (value?.arrayValues) return value.arrayValues.map((v) => String(v.value));
  return typeof value?.value === 'string' ? [value.value] : undefined;
}

/** A TIMESTAMP literal or named TIMESTAMP parameter in ms. */
function valueMs(token: string, params: readonly QueryParameter[]): number | undefined {
  const raw = token.startsWith('@')
    ? params.find((p) => p.name?.toLowerCase() === token.slice(1).toLowerCase())?.parameterValue?.value
    : /'([^']*)'/.exec(token)?.[1];
  const micros = parseTimestampMicros(raw);
  return micros === undefined ? undefined : Number(micros / 1000n);
}

/** The text from `start` up to the parenthesis that closes the one opened just before it. */
function balanced(text: string, start: number): string {
  let depth = 1;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(start, i);
  }
  return text.slice(start);
}

/** `list` split at its top-level commas. */
function topLevelItems(list: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    if (list[i] === '(') depth++;
    else if (list[i] === ')') depth--;
    else if (list[i] === ',' && depth === 0) {
      items.push(list.slice(start, i));
      start = i + 1;
    }
  }
  items.push(list.slice(start));
  return items;
}
