import type { DuckDBAppender, DuckDBConnection, DuckDBPreparedStatement } from '@duckdb/node-api';
import { modeOf, type BqField, type BqType } from './schema-types.ts';

/** Scalar types whose checked value (row-validate.ts) DuckDB's appender takes as it is or casts from text. */
const APPENDABLE = new Set<BqType>([
  'STRING',
  'GEOGRAPHY',
  'INTEGER',
  'FLOAT',
  'NUMERIC',
  'BIGNUMERIC',
  'BOOLEAN',
  'TIMESTAMP',
  'DATE',
  'DATETIME',
  'TIME',
]);

/**
 * Whether rows of this schema can go through the appender: flat columns only (RECORD, REPEATED, JSON and
 * BYTES keep the from_json INSERT, whose casts they rely on).
 */
export function appendable(schema: readonly BqField[]): boolean {
  return schema.every((f) => modeOf(f) !== 'REPEATED' && APPENDABLE.has(f.type));
}

/**
 * Appends already checked rows (row-validate.ts's form) with DuckDB's appender, inside one transaction:
 * when any row fails (a cast, a NOT NULL column) nothing is stored, and once `append` resolves every row
 * is committed and visible to queries. Cheaper per row than the from_json INSERT, dearer per request
 * (docs/PERFORMANCE.md). The caller serializes use of the connection.
 */
export class RowAppender {
  #statements: Promise<{ begin: DuckDBPreparedStatement; commit: DuckDBPreparedStatement }> | undefined;

  constructor(private readonly conn: DuckDBConnection) {}

  async append(
    datasetId: string,
    tableId: string,
    schema: readonly BqField[],
    rows: readonly Record<string, unknown>[],
  ): Promise<void> {
    this.#statements ??= Promise.all([
      this.conn.prepare('BEGIN TRANSACTION'),
      this.conn.prepare('COMMIT'),
    ]).then(([begin, commit]) => ({ begin, commit }));
    const { begin, commit } = await this.#statements;
    await begin.run();
    try {
      const appender = await this.conn.createAppender(tableId, datasetId);
      try {
        for (const row of rows) appendRow(appender, schema, row);
      } finally {
        // Flushes into the open transaction; a failed row leaves it to the rollback below.
        appender.closeSync();
      }
      await commit.run();
    } catch (error) {
      await this.conn.run('ROLLBACK');
      throw error;
    }
  }
}

function appendRow(appender: DuckDBAppender, schema: readonly BqField[], row: Record<string, unknown>): void {
  for (const field of schema) {
    const value = row[field.name];
    if (value === null || value === undefined) appender.appendNull();
    else if (typeof value === 'number') appender.appendDouble(value);
    else if (typeof value === 'boolean') appender.appendBoolean(value);
    else if (field.type === 'FLOAT')
      appender.appendDouble(Number(value)); // 'NaN', 'Infinity', '-Infinity'
    else appender.appendVarchar(String(value)); // cast to the column's type (INT64 text, timestamps...)
  }
  appender.endRow();
}
