import {
  DuckDBInstance,
  ResultReturnType,
  StatementType,
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBResult,
  type DuckDBValue,
} from '@duckdb/node-api';
import { duplicate, firstLine, invalid, invalidQuery, notFound, resourceInUse } from './errors.ts';
import type { DuckParams } from './query-params.ts';
import {
  bqFieldFromDuck,
  createTableSql,
  jsonStructure,
  qualifiedName,
  quoteIdent,
  type BqField,
} from './schema-types.ts';
import { SerialQueue } from './serial-queue.ts';
import { SESSION_SETUP } from './sql-shims.ts';

/** A dataset: one DuckDB schema, plus the resource fields the API returns. */
export interface DatasetRecord {
  datasetId: string;
  resource: Record<string, unknown>;
}

/** A table or view with its BigQuery schema; `resource` holds the fields kept from tables.insert. */
export interface TableRecord {
  datasetId: string;
  tableId: string;
  type: 'TABLE' | 'VIEW';
  schema: BqField[];
  resource: Record<string, unknown>;
  /** INSERT ... SELECT FROM from_json($1) for this schema, prepared once. */
  insertStatement?: DuckDBPreparedStatement;
}

/** What a query produced: rows with their schema, or a count of changed rows. */
export interface QueryOutcome {
  statementType: string;
  fields: BqField[];
  rows: DuckDBValue[][];
  numDmlAffectedRows?: number;
}

const META_SCHEMA = '_standin_meta';
const HIDDEN_SCHEMAS = new Set(['main', 'information_schema', 'pg_catalog', 'temp', META_SCHEMA]);
const IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const STATEMENT_NAMES: Partial<Record<StatementType, string>> = {
  [StatementType.SELECT]: 'SELECT',
  [StatementType.INSERT]: 'INSERT',
  [StatementType.UPDATE]: 'UPDATE',
  [StatementType.DELETE]: 'DELETE',
  [StatementType.MERGE_INTO]: 'MERGE',
  [StatementType.CREATE]: 'CREATE',
  [StatementType.DROP]: 'DROP',
  [StatementType.ALTER]: 'ALTER',
};

const tableKey = (datasetId: string, tableId: string): string => `${datasetId}.${tableId}`;

/** BigQuery's result column names: expressions without an alias become f0_, f1_, ... */
function resultNames(names: string[]): string[] {
  let anonymous = 0;
  const out = names.map((name) => (IDENTIFIER_RE.test(name) ? name : `f${anonymous++}_`));
  const seen = new Set<string>();
  const dupes = out.filter((n) => (seen.has(n.toLowerCase()) ? true : (seen.add(n.toLowerCase()), false)));
  if (dupes.length > 0) {
    throw invalidQuery(
      `Duplicate column names in the result are not supported. Found duplicate(s): ${dupes.join(', ')}`,
    );
  }
  return out;
}

/**
 * The stand-in's storage: an embedded DuckDB with one schema per dataset. Every use of the single
 * connection goes through a queue, so concurrent HTTP requests never overlap on it.
 */
export class Warehouse {
  readonly #queue = new SerialQueue();
  readonly #datasets = new Map<string, DatasetRecord>();
  readonly #tables = new Map<string, TableRecord>();
  #closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly projectId: string,
    private readonly persistent: boolean,
  ) {}

  /** Opens DuckDB in memory, or in a file that keeps datasets, tables and rows across restarts. */
  static async open(dbPath: string | undefined, projectId: string): Promise<Warehouse> {
    const instance = await DuckDBInstance.create(dbPath ?? ':memory:');
    const conn = await instance.connect();
    for (const statement of SESSION_SETUP) await conn.run(statement);
    await conn.run(`CREATE SCHEMA IF NOT EXISTS ${META_SCHEMA}`);
    await conn.run(
      `CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.datasets (dataset_id VARCHAR PRIMARY KEY, resource VARCHAR)`,
    );
    await conn.run(
      `CREATE TABLE IF NOT EXISTS ${META_SCHEMA}.tables ` +
        '(dataset_id VARCHAR, table_id VARCHAR, resource VARCHAR, PRIMARY KEY (dataset_id, table_id))',
    );
    const warehouse = new Warehouse(instance, conn, projectId, dbPath !== undefined);
    await warehouse.#load();
    return warehouse;
  }

  async #load(): Promise<void> {
    const datasets = await this.conn.runAndReadAll(
      `SELECT dataset_id, resource FROM ${META_SCHEMA}.datasets`,
    );
    for (const [datasetId, resource] of datasets.getRows() as [string, string][]) {
      this.#datasets.set(datasetId, { datasetId, resource: JSON.parse(resource) });
    }
    const tables = await this.conn.runAndReadAll(
      `SELECT dataset_id, table_id, resource FROM ${META_SCHEMA}.tables`,
    );
    for (const [datasetId, tableId, json] of tables.getRows() as [string, string, string][]) {
      const { type, schema, ...resource } = JSON.parse(json) as Record<string, unknown>;
      this.#tables.set(tableKey(datasetId, tableId), {
        datasetId,
        tableId,
        type: type === 'VIEW' ? 'VIEW' : 'TABLE',
        schema: (schema as BqField[] | undefined) ?? [],
        resource,
      });
    }
    await this.#reconcile();
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('The BigQuery stand-in is stopped'));
    return this.#queue.run(task);
  }

  async #rows(sql: string, values?: DuckDBValue[]): Promise<DuckDBValue[][]> {
    return (await this.conn.runAndReadAll(sql, values)).getRows();
  }

  async #schemaExists(datasetId: string): Promise<boolean> {
    const rows = await this.#rows(
      'SELECT 1 FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name = $1',
      [datasetId],
    );
    return rows.length > 0;
  }

  /** Drops cached metadata of tables removed or replaced by SQL (DROP, CREATE OR REPLACE). */
  async #reconcile(): Promise<void> {
    const rows = await this.#rows(
      "SELECT schema_name, table_name, string_agg(column_name, ',' ORDER BY column_index) FROM duckdb_columns() " +
        'WHERE database_name = current_database() GROUP BY ALL',
    );
    const columns = new Map(rows.map(([s, t, c]) => [tableKey(String(s), String(t)), String(c)]));
    for (const [key, record] of this.#tables) {
      const actual = columns.get(key);
      const expected = record.schema.map((f) => f.name).join(',');
      if (actual === undefined || (record.type === 'TABLE' && actual !== expected)) {
        this.#tables.delete(key);
        await this.conn.run(`DELETE FROM ${META_SCHEMA}.tables WHERE dataset_id = $1 AND table_id = $2`, [
          record.datasetId,
          record.tableId,
        ]);
      }
    }
    const schemas = new Set(
      (
        await this.#rows('SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()')
      ).map(([s]) => String(s)),
    );
    for (const datasetId of this.#datasets.keys()) {
      if (!schemas.has(datasetId)) {
        this.#datasets.delete(datasetId);
        await this.conn.run(`DELETE FROM ${META_SCHEMA}.datasets WHERE dataset_id = $1`, [datasetId]);
      }
    }
  }

  async #requireDataset(datasetId: string): Promise<DatasetRecord> {
    const cached = this.#datasets.get(datasetId);
    if (cached) return cached;
    if (!HIDDEN_SCHEMAS.has(datasetId) && (await this.#schemaExists(datasetId))) {
      return { datasetId, resource: {} };
    }
    throw notFound(`Dataset ${this.projectId}:${datasetId}`);
  }

  async #derivedSchema(datasetId: string, tableId: string): Promise<BqField[]> {
    const result = await this.conn.run(`SELECT * FROM ${qualifiedName(datasetId, tableId)} LIMIT 0`);
    const names = result.columnNames();
    return result.columnTypes().map((type, i) => bqFieldFromDuck(names[i] as string, type));
  }

  /** The table or view, from the cache or, for ones made by SQL DDL, from DuckDB's catalog. */
  async #requireTable(datasetId: string, tableId: string): Promise<TableRecord> {
    const cached = this.#tables.get(tableKey(datasetId, tableId));
    if (cached?.type === 'TABLE') return cached;
    await this.#requireDataset(datasetId);
    const found = await this.#rows(
      "SELECT 'TABLE' FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2 " +
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE database_name = current_database() AND schema_name = $1 AND view_name = $2",
      [datasetId, tableId],
    );
    if (found.length === 0) throw notFound(`Table ${this.projectId}:${datasetId}.${tableId}`);
    const type = found[0]?.[0] === 'VIEW' ? 'VIEW' : 'TABLE';
    const schema = await this.#derivedSchema(datasetId, tableId);
    if (cached) return { ...cached, schema };
    const record: TableRecord = { datasetId, tableId, type, schema, resource: {} };
    if (type === 'TABLE') this.#tables.set(tableKey(datasetId, tableId), record);
    return record;
  }

  createDataset(datasetId: string, resource: Record<string, unknown>): Promise<DatasetRecord> {
    return this.#exclusive(async () => {
      if (HIDDEN_SCHEMAS.has(datasetId.toLowerCase())) throw invalid(`Dataset name ${datasetId} is reserved`);
      if (this.#datasets.has(datasetId) || (await this.#schemaExists(datasetId))) {
        throw duplicate(`Dataset ${this.projectId}:${datasetId}`);
      }
      await this.conn.run(`CREATE SCHEMA ${quoteIdent(datasetId)}`);
      await this.conn.run(`INSERT INTO ${META_SCHEMA}.datasets VALUES ($1, $2)`, [
        datasetId,
        JSON.stringify(resource),
      ]);
      const record = { datasetId, resource };
      this.#datasets.set(datasetId, record);
      return record;
    });
  }

  getDataset(datasetId: string): Promise<DatasetRecord> {
    return this.#exclusive(() => this.#requireDataset(datasetId));
  }

  listDatasets(): Promise<DatasetRecord[]> {
    return this.#exclusive(async () => {
      const names = await this.#rows(
        'SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() ORDER BY schema_name',
      );
      return names
        .map(([name]) => String(name))
        .filter((name) => !HIDDEN_SCHEMAS.has(name))
        .map((datasetId) => this.#datasets.get(datasetId) ?? { datasetId, resource: {} });
    });
  }

  /** Deletes a dataset; with tables in it only when deleteContents is set, as BigQuery does. */
  deleteDataset(datasetId: string, deleteContents: boolean): Promise<void> {
    return this.#exclusive(async () => {
      await this.#requireDataset(datasetId);
      const tables = await this.#rows(
        'SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = $1 ' +
          'UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND schema_name = $1',
        [datasetId],
      );
      if (tables.length > 0 && !deleteContents) {
        throw resourceInUse(`Dataset ${this.projectId}:${datasetId} is still in use`);
      }
      await this.conn.run(`DROP SCHEMA ${quoteIdent(datasetId)} CASCADE`);
      await this.conn.run(`DELETE FROM ${META_SCHEMA}.datasets WHERE dataset_id = $1`, [datasetId]);
      await this.conn.run(`DELETE FROM ${META_SCHEMA}.tables WHERE dataset_id = $1`, [datasetId]);
      this.#datasets.delete(datasetId);
      for (const [key, record] of this.#tables) if (record.datasetId === datasetId) this.#tables.delete(key);
    });
  }

  /** Creates a table from a BigQuery schema, or a view from already rewritten SQL. */
  createTable(
    datasetId: string,
    tableId: string,
    resource: Record<string, unknown>,
    definition: { schema: BqField[] } | { viewSql: string },
  ): Promise<TableRecord> {
    return this.#exclusive(async () => {
      await this.#requireDataset(datasetId);
      const exists = await this.#rows(
        'SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2 ' +
          'UNION ALL SELECT 1 FROM duckdb_views() WHERE database_name = current_database() AND schema_name = $1 AND view_name = $2',
        [datasetId, tableId],
      );
      if (exists.length > 0) throw duplicate(`Table ${this.projectId}:${datasetId}.${tableId}`);
      let record: TableRecord;
      if ('viewSql' in definition) {
        try {
          await this.conn.run(`CREATE VIEW ${qualifiedName(datasetId, tableId)} AS ${definition.viewSql}`);
        } catch (error) {
          throw invalidQuery(firstLine(error), error);
        }
        const schema = await this.#derivedSchema(datasetId, tableId);
        record = { datasetId, tableId, type: 'VIEW', schema, resource };
      } else {
        await this.conn.run(createTableSql(datasetId, tableId, definition.schema));
        record = { datasetId, tableId, type: 'TABLE', schema: definition.schema, resource };
      }
      const stored = JSON.stringify({
        ...resource,
        type: record.type,
        schema: record.type === 'TABLE' ? record.schema : undefined,
      });
      await this.conn.run(`INSERT OR REPLACE INTO ${META_SCHEMA}.tables VALUES ($1, $2, $3)`, [
        datasetId,
        tableId,
        stored,
      ]);
      this.#tables.set(tableKey(datasetId, tableId), record);
      return record;
    });
  }

  /** Replaces a view's SQL (already rewritten) in place, as tables.patch with a new view.query does. */
  replaceView(
    datasetId: string,
    tableId: string,
    resource: Record<string, unknown>,
    viewSql: string,
  ): Promise<TableRecord> {
    return this.#exclusive(async () => {
      const current = await this.#requireTable(datasetId, tableId);
      if (current.type !== 'VIEW') throw invalid(`${datasetId}.${tableId} is not a view`);
      try {
        await this.conn.run(`CREATE OR REPLACE VIEW ${qualifiedName(datasetId, tableId)} AS ${viewSql}`);
      } catch (error) {
        throw invalidQuery(firstLine(error), error);
      }
      const schema = await this.#derivedSchema(datasetId, tableId);
      const record: TableRecord = { datasetId, tableId, type: 'VIEW', schema, resource };
      await this.conn.run(`INSERT OR REPLACE INTO ${META_SCHEMA}.tables VALUES ($1, $2, $3)`, [
        datasetId,
        tableId,
        JSON.stringify({ ...resource, type: 'VIEW' }),
      ]);
      this.#tables.set(tableKey(datasetId, tableId), record);
      return record;
    });
  }

  /** The table with its current row count (views have none). */
  getTable(datasetId: string, tableId: string): Promise<{ table: TableRecord; numRows?: number }> {
    return this.#exclusive(async () => {
      const table = await this.#requireTable(datasetId, tableId);
      if (table.type === 'VIEW') return { table };
      const [[count] = [0n]] = await this.#rows(`SELECT count(*) FROM ${qualifiedName(datasetId, tableId)}`);
      return { table, numRows: Number(count) };
    });
  }

  listTables(datasetId: string): Promise<{ tableId: string; type: 'TABLE' | 'VIEW' }[]> {
    return this.#exclusive(async () => {
      await this.#requireDataset(datasetId);
      const rows = await this.#rows(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = $1 " +
          "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE database_name = current_database() AND schema_name = $1 " +
          'ORDER BY 1',
        [datasetId],
      );
      return rows.map(([tableId, type]) => ({
        tableId: String(tableId),
        type: type === 'VIEW' ? 'VIEW' : 'TABLE',
      }));
    });
  }

  deleteTable(datasetId: string, tableId: string): Promise<void> {
    return this.#exclusive(async () => {
      const table = await this.#requireTable(datasetId, tableId);
      await this.conn.run(
        `DROP ${table.type === 'VIEW' ? 'VIEW' : 'TABLE'} ${qualifiedName(datasetId, tableId)}`,
      );
      await this.conn.run(`DELETE FROM ${META_SCHEMA}.tables WHERE dataset_id = $1 AND table_id = $2`, [
        datasetId,
        tableId,
      ]);
      this.#tables.delete(tableKey(datasetId, tableId));
    });
  }

  /**
   * Appends rows in one statement, the table's INSERT from JSON, prepared once (one DuckDB call per
   * request). `prepare` runs inside the queue with the table's schema and returns the rows to store
   * (already in from_json form); `onStored` runs only after they are stored.
   */
  insertRows<T>(
    datasetId: string,
    tableId: string,
    prepare: (table: TableRecord) => { rows: Record<string, unknown>[]; onStored?: () => void; result: T },
  ): Promise<T> {
    return this.#exclusive(async () => {
      const table = await this.#requireTable(datasetId, tableId);
      if (table.type === 'VIEW')
        throw invalid(`Cannot insert into view ${this.projectId}:${datasetId}.${tableId}`);
      const { rows, onStored, result } = prepare(table);
      if (rows.length > 0) {
        table.insertStatement ??= await this.conn.prepare(this.#insertSql(table));
        table.insertStatement.bind([JSON.stringify(rows)]);
        await table.insertStatement.run();
      }
      onStored?.();
      return result;
    });
  }

  #insertSql(table: TableRecord): string {
    const structure = JSON.stringify([jsonStructure(table.schema)]).replace(/'/g, "''");
    const columns = table.schema.map((f) => quoteIdent(f.name));
    return (
      `INSERT INTO ${qualifiedName(table.datasetId, table.tableId)} (${columns.join(', ')}) ` +
      `SELECT ${columns.map((c) => `__standin_row.${c}`).join(', ')} ` +
      `FROM (SELECT unnest(from_json($1::VARCHAR, '${structure}')) AS __standin_row)`
    );
  }

  /** A page of a table's rows in insertion order (tabledata.list). */
  readRows(
    datasetId: string,
    tableId: string,
    offset: number,
    limit: number,
    selectedFields?: string[],
  ): Promise<{ fields: BqField[]; rows: DuckDBValue[][]; totalRows: number }> {
    return this.#exclusive(async () => {
      const table = await this.#requireTable(datasetId, tableId);
      if (table.type === 'VIEW') {
        throw invalid(`Cannot list a table of type VIEW: ${this.projectId}:${datasetId}.${tableId}`);
      }
      let fields = table.schema;
      if (selectedFields && selectedFields.length > 0) {
        const wanted = new Set(selectedFields.map((s) => (s.split('.')[0] ?? s).toLowerCase()));
        fields = fields.filter((f) => wanted.has(f.name.toLowerCase()));
      }
      const name = qualifiedName(datasetId, tableId);
      const [[total] = [0n]] = await this.#rows(`SELECT count(*) FROM ${name}`);
      const columns = fields.length > 0 ? fields.map((f) => quoteIdent(f.name)).join(', ') : '1';
      const rows = await this.#rows(
        `SELECT ${columns} FROM ${name} ORDER BY rowid LIMIT ${Math.max(0, limit)} OFFSET ${Math.max(0, offset)}`,
      );
      return { fields, rows, totalRows: Number(total) };
    });
  }

  /** Runs rewritten SQL; `defaultDataset` resolves unqualified table names. */
  query(sql: string, params: DuckParams | undefined, defaultDataset?: string): Promise<QueryOutcome> {
    return this.#exclusive(async () => {
      if (defaultDataset) {
        await this.#requireDataset(defaultDataset);
        await this.conn.run(`SET schema = '${defaultDataset.replace(/'/g, "''")}'`);
      }
      let result: DuckDBResult;
      try {
        result = await this.conn.run(sql, params?.values, params?.types);
      } catch (error) {
        throw invalidQuery(firstLine(error), error);
      } finally {
        if (defaultDataset) await this.conn.run("SET schema = 'main'");
      }
      const statementType = STATEMENT_NAMES[result.statementType] ?? 'SCRIPT';
      if (
        result.statementType === StatementType.CREATE ||
        result.statementType === StatementType.DROP ||
        result.statementType === StatementType.ALTER
      ) {
        await this.#reconcile();
      }
      if (result.returnType === ResultReturnType.CHANGED_ROWS) {
        return { statementType, fields: [], rows: [], numDmlAffectedRows: result.rowsChanged };
      }
      if (result.returnType !== ResultReturnType.QUERY_RESULT) return { statementType, fields: [], rows: [] };
      const names = resultNames(result.columnNames());
      const fields = result.columnTypes().map((type, i) => bqFieldFromDuck(names[i] as string, type));
      return { statementType, fields, rows: await result.getRows() };
    });
  }

  /** Waits for queued work, then closes DuckDB (a file database is checkpointed first). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.idle();
    try {
      if (this.persistent) await this.conn.run('CHECKPOINT');
    } finally {
      this.conn.closeSync();
      this.instance.closeSync();
    }
  }
}
