import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { invalid } from './errors.ts';

/** A BigQuery column type, in the legacy spelling the REST API returns. */
export type BqType =
  | 'STRING'
  | 'INTEGER'
  | 'FLOAT'
  | 'NUMERIC'
  | 'BIGNUMERIC'
  | 'BOOLEAN'
  | 'TIMESTAMP'
  | 'DATE'
  | 'DATETIME'
  | 'TIME'
  | 'JSON'
  | 'BYTES'
  | 'GEOGRAPHY'
  | 'RECORD';

export type BqMode = 'NULLABLE' | 'REQUIRED' | 'REPEATED';

/** A field of a table schema as the REST API carries it. */
export interface BqField {
  name: string;
  type: BqType;
  mode?: BqMode;
  fields?: BqField[];
  description?: string;
}

const TYPE_ALIASES: Record<string, BqType> = {
  STRING: 'STRING',
  INT64: 'INTEGER',
  INTEGER: 'INTEGER',
  FLOAT64: 'FLOAT',
  FLOAT: 'FLOAT',
  NUMERIC: 'NUMERIC',
  DECIMAL: 'NUMERIC',
  BIGNUMERIC: 'BIGNUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
  BOOL: 'BOOLEAN',
  BOOLEAN: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMP',
  DATE: 'DATE',
  DATETIME: 'DATETIME',
  TIME: 'TIME',
  JSON: 'JSON',
  BYTES: 'BYTES',
  GEOGRAPHY: 'GEOGRAPHY',
  RECORD: 'RECORD',
  STRUCT: 'RECORD',
};

const FIELD_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,299}$/;

export const modeOf = (field: BqField): BqMode => field.mode ?? 'NULLABLE';

/** Checks a schema from a request and returns it with type names normalized (INT64 -> INTEGER, ...). */
export function normalizeSchema(input: unknown, path = ''): BqField[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw invalid(`Schema ${path ? `of field ${path} ` : ''}must have at least one field`);
  }
  const seen = new Set<string>();
  return input.map((raw: unknown): BqField => {
    if (typeof raw !== 'object' || raw === null) throw invalid('Invalid schema field');
    const { name, type, mode, fields, ...rest } = raw as Record<string, unknown>;
    if (typeof name !== 'string' || !FIELD_NAME_RE.test(name)) {
      throw invalid(
        `Invalid field name "${String(name)}". Fields must contain only letters, numbers, and underscores`,
      );
    }
    const fullName = path ? `${path}.${name}` : name;
    if (seen.has(name.toLowerCase())) throw invalid(`Field ${fullName} already exists in schema`);
    seen.add(name.toLowerCase());
    const normalizedType = typeof type === 'string' ? TYPE_ALIASES[type.toUpperCase()] : undefined;
    if (!normalizedType) throw invalid(`Invalid value for type: ${String(type)} is not a valid value`);
    const field: BqField = { ...(rest as Partial<BqField>), name, type: normalizedType };
    if (mode !== undefined) {
      const upper = typeof mode === 'string' ? mode.toUpperCase() : '';
      if (upper !== 'NULLABLE' && upper !== 'REQUIRED' && upper !== 'REPEATED') {
        throw invalid(`Invalid value for mode: ${String(mode)} is not a valid value`);
      }
      field.mode = upper;
    }
    if (normalizedType === 'RECORD') field.fields = normalizeSchema(fields, fullName);
    else if (fields !== undefined)
      throw invalid(`Field ${fullName} is type ${normalizedType} but has subfields`);
    return field;
  });
}

/** A DuckDB identifier, quoted. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The schema-qualified DuckDB name of a table: one DuckDB schema per dataset. */
export const qualifiedName = (datasetId: string, tableId: string): string =>
  `${quoteIdent(datasetId)}.${quoteIdent(tableId)}`;

function duckScalarType(field: BqField): string {
  switch (field.type) {
    case 'STRING':
    case 'GEOGRAPHY':
      return 'VARCHAR';
    case 'INTEGER':
      return 'BIGINT';
    case 'FLOAT':
      return 'DOUBLE';
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return 'DECIMAL(38,9)';
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'TIMESTAMP':
      return 'TIMESTAMPTZ';
    case 'DATE':
      return 'DATE';
    case 'DATETIME':
      return 'TIMESTAMP';
    case 'TIME':
      return 'TIME';
    case 'JSON':
      return 'JSON';
    case 'BYTES':
      return 'BLOB';
    case 'RECORD':
      return `STRUCT(${(field.fields ?? []).map((f) => `${quoteIdent(f.name)} ${duckColumnType(f)}`).join(', ')})`;
  }
}

/** The DuckDB column type of a BigQuery field: TIMESTAMP is TIMESTAMPTZ, REPEATED is a LIST. */
export function duckColumnType(field: BqField): string {
  const base = duckScalarType(field);
  return modeOf(field) === 'REPEATED' ? `${base}[]` : base;
}

/** `CREATE TABLE` for a BigQuery schema; REQUIRED top-level fields become NOT NULL. */
export function createTableSql(datasetId: string, tableId: string, fields: BqField[]): string {
  const columns = fields.map(
    (f) => `${quoteIdent(f.name)} ${duckColumnType(f)}${modeOf(f) === 'REQUIRED' ? ' NOT NULL' : ''}`,
  );
  return `CREATE TABLE ${qualifiedName(datasetId, tableId)} (${columns.join(', ')})`;
}

type Structure = string | Structure[] | { [name: string]: Structure };

/** The structure argument of DuckDB's from_json for rows of this schema. */
export function jsonStructure(fields: BqField[]): { [name: string]: Structure } {
  const structure: { [name: string]: Structure } = {};
  for (const field of fields) {
    // BYTES arrive as '\xNN' text: INSERT's cast to BLOB decodes it (from_json's own BLOB read would not).
    const inner: Structure =
      field.type === 'RECORD'
        ? jsonStructure(field.fields ?? [])
        : field.type === 'BYTES'
          ? 'VARCHAR'
          : duckScalarType(field);
    structure[field.name] = modeOf(field) === 'REPEATED' ? [inner] : inner;
  }
  return structure;
}

/** The BigQuery field that best describes a DuckDB result column. */
export function bqFieldFromDuck(name: string, type: DuckDBType): BqField {
  if (type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.ARRAY) {
    const inner = type.valueType;
    if (inner.typeId === DuckDBTypeId.LIST || inner.typeId === DuckDBTypeId.ARRAY) {
      // BigQuery has no array of arrays: such a column is rendered as a JSON string.
      return { name, type: 'JSON', mode: 'NULLABLE' };
    }
    return { ...bqFieldFromDuck(name, inner), mode: 'REPEATED' };
  }
  if (type.typeId === DuckDBTypeId.STRUCT) {
    return {
      name,
      type: 'RECORD',
      mode: 'NULLABLE',
      fields: type.entryNames.map((entry, i) => bqFieldFromDuck(entry, type.entryTypes[i] as DuckDBType)),
    };
  }
  return { name, type: bqScalarFromDuck(type), mode: 'NULLABLE' };
}

function bqScalarFromDuck(type: DuckDBType): BqType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return 'BOOLEAN';
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.SQLNULL:
      return 'INTEGER';
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return 'FLOAT';
    case DuckDBTypeId.DECIMAL:
      return type.scale > 9 ? 'BIGNUMERIC' : 'NUMERIC';
    case DuckDBTypeId.VARCHAR:
      return type.alias === 'JSON' ? 'JSON' : 'STRING';
    case DuckDBTypeId.BLOB:
      return 'BYTES';
    case DuckDBTypeId.DATE:
      return 'DATE';
    case DuckDBTypeId.TIMESTAMP_TZ:
      return 'TIMESTAMP';
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return 'DATETIME';
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.TIME_NS:
    case DuckDBTypeId.TIME_TZ:
      return 'TIME';
    default:
      return 'STRING';
  }
}
