// Translates the GoogleSQL this project writes into DuckDB SQL: a small tokenizer, then local rewrites.
// Not a parser: it handles names, literals, parameters and a list of function and keyword differences.

type Token =
  | { kind: 'ws' | 'punct' | 'number' | 'word' | 'sysvar'; text: string }
  | { kind: 'comment'; text: string }
  | { kind: 'string'; value: string; bytes: boolean }
  | { kind: 'quoted'; parts: string[] }
  | { kind: 'param'; name: string };

/** DuckDB SQL plus the parameters it refers to. */
export interface RewrittenSql {
  sql: string;
  /** Named parameters used, lower-cased (BigQuery names are case-insensitive). */
  namedParams: Set<string>;
  positionalParams: number;
}

export interface RewriteOptions {
  /** Project ids that may prefix table paths and are dropped (a part with '-' or ':' always is). */
  projectIds?: readonly string[];
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  v: '\v',
  a: '\x07',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '`': '`',
  '?': '?',
};

function unescape(body: string): string {
  return body.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/gs,
    (_, esc: string) => {
      if (esc.length > 1 && (esc[0] === 'x' || esc[0] === 'u' || esc[0] === 'U')) {
        return String.fromCodePoint(parseInt(esc.slice(1), 16));
      }
      if (/^[0-7]{3}$/.test(esc)) return String.fromCodePoint(parseInt(esc, 8));
      return SIMPLE_ESCAPES[esc] ?? esc;
    },
  );
}

/** Reads a quoted run starting at `start` (the opening quote); returns the raw body and the end index. */
function readQuoted(sql: string, start: number, quote: string, raw: boolean): { body: string; end: number } {
  let i = start + quote.length;
  let body = '';
  while (i < sql.length) {
    if (sql.startsWith(quote, i)) return { body, end: i + quote.length };
    const ch = sql[i] as string;
    if (ch === '\\' && !raw && i + 1 < sql.length) {
      body += ch + (sql[i + 1] as string);
      i += 2;
      continue;
    }
    body += ch;
    i += 1;
  }
  throw new Error(`Unclosed ${quote} literal`);
}

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i, i + 3);
    const ch = sql[i] as string;
    let m: RegExpExecArray | null;
    if (/\s/.test(ch)) {
      const end = sql.slice(i).search(/\S/);
      const len = end === -1 ? sql.length - i : end;
      tokens.push({ kind: 'ws', text: sql.slice(i, i + len) });
      i += len;
    } else if (rest.startsWith('--') || ch === '#') {
      const nl = sql.indexOf('\n', i);
      const end = nl === -1 ? sql.length : nl;
      tokens.push({ kind: 'comment', text: `--${sql.slice(i + (ch === '#' ? 1 : 2), end)}` });
      i = end;
    } else if (rest.startsWith('/*')) {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      tokens.push({ kind: 'comment', text: sql.slice(i, stop) });
      i = stop;
    } else if (
      (m = /^([rRbB]{0,2})('''|"""|'|")/.exec(sql.slice(i, i + 5))) &&
      !/[A-Za-z0-9_]/.test(sql[i - 1] ?? ' ')
    ) {
      const prefix = (m[1] ?? '').toLowerCase();
      const quote = m[2] as string;
      const { body, end } = readQuoted(sql, i + prefix.length, quote, prefix.includes('r'));
      tokens.push({
        kind: 'string',
        value: prefix.includes('r') ? body : unescape(body),
        bytes: prefix.includes('b'),
      });
      i = end;
    } else if (ch === '`') {
      const { body, end } = readQuoted(sql, i, '`', false);
      tokens.push({ kind: 'quoted', parts: unescape(body).split('.') });
      i = end;
    } else if ((m = /^@@[A-Za-z_][A-Za-z0-9_.]*/.exec(sql.slice(i)))) {
      tokens.push({ kind: 'sysvar', text: m[0] });
      i += m[0].length;
    } else if ((m = /^@([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i)))) {
      tokens.push({ kind: 'param', name: (m[1] as string).toLowerCase() });
      i += m[0].length;
    } else if ((m = /^(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)/.exec(sql.slice(i)))) {
      tokens.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i)))) {
      tokens.push({ kind: 'word', text: m[0] });
      i += m[0].length;
    } else {
      const op = /^(<=|>=|<>|!=|\|\||<<|>>|::)/.exec(sql.slice(i));
      const text = op ? op[0] : ch;
      tokens.push({ kind: 'punct', text });
      i += text.length;
    }
  }
  return tokens;
}

const isPunct = (t: Token | undefined, text: string): boolean => t?.kind === 'punct' && t.text === text;
const isWord = (t: Token | undefined, ...words: string[]): boolean =>
  t?.kind === 'word' && words.includes(t.text.toUpperCase());
const significant = (t: Token | undefined): boolean =>
  t !== undefined && t.kind !== 'ws' && t.kind !== 'comment';

function nextSig(tokens: Token[], i: number, to: number): number {
  for (let j = i + 1; j < to; j++) if (significant(tokens[j])) return j;
  return -1;
}

function prevSig(tokens: Token[], i: number, from: number): number {
  for (let j = i - 1; j >= from; j--) if (significant(tokens[j])) return j;
  return -1;
}

function matchParen(tokens: Token[], open: number, to: number): number {
  let depth = 0;
  for (let j = open; j < to; j++) {
    if (isPunct(tokens[j], '(')) depth += 1;
    else if (isPunct(tokens[j], ')')) {
      depth -= 1;
      if (depth === 0) return j;
    }
  }
  return -1;
}

function splitArgs(tokens: Token[], from: number, to: number): [number, number][] {
  const ranges: [number, number][] = [];
  let depth = 0;
  let start = from;
  for (let j = from; j < to; j++) {
    if (isPunct(tokens[j], '(') || isPunct(tokens[j], '[')) depth += 1;
    else if (isPunct(tokens[j], ')') || isPunct(tokens[j], ']')) depth -= 1;
    else if (depth === 0 && isPunct(tokens[j], ',')) {
      ranges.push([start, j]);
      start = j + 1;
    }
  }
  ranges.push([start, to]);
  return ranges;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteString = (value: string): string => `'${value.replace(/'/g, "''")}'`;
/** 'HOUR' or 'WEEK(MONDAY)' as DuckDB's date part string. */
const datePart = (arg: string): string => quoteString((arg.trim().split(/[\s(]/)[0] ?? '').toLowerCase());

type CallRewrite = (args: string[]) => string | undefined;
const trunc: CallRewrite = ([x, part]) => (x && part ? `date_trunc(${datePart(part)}, ${x})` : undefined);
const exactDiff: CallRewrite = ([a, b, part]) =>
  a && b && part ? `date_sub(${datePart(part)}, ${b}, ${a})` : undefined;
const add =
  (op: '+' | '-', cast?: string): CallRewrite =>
  ([x, interval]) => {
    if (!x || !interval) return undefined;
    return cast ? `CAST((${x} ${op} ${interval}) AS ${cast})` : `(${x} ${op} ${interval})`;
  };

/** GoogleSQL functions whose arguments differ from DuckDB's. */
const CALL_REWRITES: Record<string, CallRewrite> = {
  TIMESTAMP_TRUNC: trunc,
  DATETIME_TRUNC: trunc,
  DATE_TRUNC: ([x, part]) => (x && part ? `CAST(date_trunc(${datePart(part)}, ${x}) AS DATE)` : undefined),
  TIMESTAMP_DIFF: exactDiff,
  DATETIME_DIFF: exactDiff,
  TIME_DIFF: exactDiff,
  // DATE_DIFF counts boundaries crossed, which is DuckDB's date_diff.
  DATE_DIFF: ([a, b, part]) => (a && b && part ? `date_diff(${datePart(part)}, ${b}, ${a})` : undefined),
  TIMESTAMP_ADD: add('+'),
  TIMESTAMP_SUB: add('-'),
  DATETIME_ADD: add('+'),
  DATETIME_SUB: add('-'),
  DATE_ADD: add('+', 'DATE'),
  DATE_SUB: add('-', 'DATE'),
};

/** GoogleSQL type names after AS in a CAST, as DuckDB names them. */
const CAST_TYPES: Record<string, string> = {
  INT64: 'BIGINT',
  FLOAT64: 'DOUBLE',
  NUMERIC: 'DECIMAL(38,9)',
  BIGNUMERIC: 'DECIMAL(38,9)',
  BYTES: 'BLOB',
  TIMESTAMP: 'TIMESTAMPTZ',
  DATETIME: 'TIMESTAMP',
  STRING: 'VARCHAR',
  BOOL: 'BOOLEAN',
};

class Emitter {
  readonly namedParams = new Set<string>();
  positionalParams = 0;
  readonly #projects: Set<string>;

  constructor(
    private readonly tokens: Token[],
    projectIds: readonly string[],
  ) {
    this.#projects = new Set(projectIds.map((p) => p.toLowerCase()));
  }

  #isProject(part: string): boolean {
    return this.#projects.has(part.toLowerCase()) || /[-:]/.test(part);
  }

  /** A dotted name of words and backquoted paths: backquoted parts are quoted, a leading project dropped. */
  #chain(from: number, to: number): { text: string; end: number } | undefined {
    const parts: { name: string; quoted: boolean }[] = [];
    const push = (t: Token): void => {
      if (t.kind === 'quoted') for (const p of t.parts) parts.push({ name: p, quoted: true });
      else if (t.kind === 'word') parts.push({ name: t.text, quoted: false });
    };
    push(this.tokens[from] as Token);
    let end = from;
    while (
      isPunct(this.tokens[end + 1], '.') &&
      end + 2 < to &&
      (this.tokens[end + 2]?.kind === 'word' || this.tokens[end + 2]?.kind === 'quoted')
    ) {
      push(this.tokens[end + 2] as Token);
      end += 2;
    }
    if (end === from && this.tokens[from]?.kind !== 'quoted') return undefined;
    if (parts.length >= 3 && this.#isProject((parts[0] as { name: string }).name)) parts.shift();
    return { text: parts.map((p) => (p.quoted ? quoteIdent(p.name) : p.name)).join('.'), end };
  }

  emit(from: number, to: number): string {
    const tokens = this.tokens;
    let out = '';
    for (let i = from; i < to; i++) {
      const t = tokens[i] as Token;
      switch (t.kind) {
        case 'string':
          out += t.bytes
            ? `'${[...Buffer.from(t.value, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}'::BLOB`
            : quoteString(t.value);
          continue;
        case 'param':
          this.namedParams.add(t.name);
          out += `$${t.name}`;
          continue;
        case 'sysvar':
        case 'ws':
        case 'comment':
        case 'number':
          out += t.text;
          continue;
        case 'punct':
          if (t.text === '?') this.positionalParams += 1;
          out += t.text;
          continue;
        case 'quoted':
        case 'word': {
          const afterDot = isPunct(tokens[i - 1], '.');
          const chain = afterDot ? undefined : this.#chain(i, to);
          if (chain) {
            out += chain.text;
            i = chain.end;
            continue;
          }
          if (t.kind === 'quoted') {
            out += t.parts.map(quoteIdent).join('.');
            continue;
          }
          const rewritten = afterDot ? undefined : this.#word(i, from, to);
          if (rewritten) {
            out += rewritten.text;
            i = rewritten.end;
            continue;
          }
          out += t.text;
          continue;
        }
      }
    }
    return out;
  }

  /** Keyword and function rewrites for the word at i; `end` is the last token consumed. */
  #word(i: number, from: number, to: number): { text: string; end: number } | undefined {
    const tokens = this.tokens;
    const upper = (tokens[i] as { text: string }).text.toUpperCase();
    const next = nextSig(tokens, i, to);
    const prev = prevSig(tokens, i, from);
    const nextToken = tokens[next];
    const callOpen = isPunct(nextToken, '(') ? next : -1;

    const rewrite = CALL_REWRITES[upper];
    if (rewrite && callOpen !== -1) {
      const close = matchParen(tokens, callOpen, to);
      if (close !== -1) {
        const args = splitArgs(tokens, callOpen + 1, close).map(([a, b]) => this.emit(a, b).trim());
        const text = rewrite(args);
        if (text !== undefined) return { text, end: close };
      }
    }
    if (upper === 'UNNEST' && callOpen !== -1 && isWord(tokens[prev], 'IN')) {
      // x IN UNNEST(array) is x IN (SELECT unnest(array)) in DuckDB.
      const close = matchParen(tokens, callOpen, to);
      if (close !== -1) return { text: `(SELECT unnest(${this.emit(callOpen + 1, close)}))`, end: close };
    }
    const emptyCall = callOpen !== -1 && isPunct(tokens[nextSig(tokens, callOpen, to)], ')');
    const castTarget = isWord(tokens[prev], 'AS') && isPunct(nextToken, ')');
    switch (upper) {
      case 'SAFE_CAST':
        return { text: 'TRY_CAST', end: i };
      case 'CURRENT_TIMESTAMP':
      case 'CURRENT_DATE':
      case 'CURRENT_TIME':
        return emptyCall ? { text: upper.toLowerCase(), end: nextSig(tokens, callOpen, to) } : undefined;
      case 'CURRENT_DATETIME':
        return {
          text: 'CAST(current_timestamp AS TIMESTAMP)',
          end: emptyCall ? nextSig(tokens, callOpen, to) : i,
        };
      case 'TIMESTAMP':
      case 'DATETIME':
        if (callOpen !== -1) return { text: upper === 'TIMESTAMP' ? 'bq_timestamp' : 'bq_datetime', end: i };
        if (nextToken?.kind === 'string' || castTarget) return { text: CAST_TYPES[upper] as string, end: i };
        return undefined;
      case 'EXCEPT':
        return isPunct(tokens[prev], '*') && callOpen !== -1 ? { text: 'EXCLUDE', end: i } : undefined;
      case 'INSERT':
      case 'MERGE':
      case 'DELETE': {
        // A MERGE's `INSERT ROW` (every source column, in order) is DuckDB's `INSERT BY NAME`: same columns.
        if (upper === 'INSERT' && isWord(nextToken, 'ROW')) return { text: 'INSERT BY NAME', end: next };
        const atStart = prev === -1 || isPunct(tokens[prev], ';');
        const keyword = upper === 'DELETE' ? 'FROM' : 'INTO';
        return atStart && !isWord(nextToken, keyword) ? { text: `${upper} ${keyword}`, end: i } : undefined;
      }
      default:
        return castTarget && CAST_TYPES[upper] ? { text: CAST_TYPES[upper], end: i } : undefined;
    }
  }
}

/** Rewrites GoogleSQL to DuckDB SQL (dataset.table names map to DuckDB schema.table). */
export function rewriteSql(sql: string, options: RewriteOptions = {}): RewrittenSql {
  const tokens = tokenize(sql);
  const emitter = new Emitter(tokens, options.projectIds ?? []);
  const out = emitter.emit(0, tokens.length);
  return { sql: out, namedParams: emitter.namedParams, positionalParams: emitter.positionalParams };
}
