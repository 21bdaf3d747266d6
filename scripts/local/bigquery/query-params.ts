import {
  BIGINT,
  BLOB,
  BOOLEAN,
  DATE,
  DECIMAL,
  DOUBLE,
  LIST,
  STRUCT,
  TIME,
  TIMESTAMP,
  TIMESTAMPTZ,
  VARCHAR,
  blobValue,
  dateValue,
  decimalValue,
  listValue,
  structValue,
  timestampTZValue,
  timestampValue,
  timeValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { invalidQuery } from './errors.ts';
import {
  daysFromCivil,
  normalizeDate,
  normalizeDatetime,
  normalizeTime,
  parseTimestampMicros,
} from './timestamp.ts';

/** A query parameter type as the REST API carries it. */
export interface ParamType {
  type: string;
  arrayType?: ParamType;
  structTypes?: { name?: string; type: ParamType }[];
}

/** A query parameter value as the REST API carries it. */
export interface ParamValue {
  value?: string | number | boolean | null;
  arrayValues?: ParamValue[];
  structValues?: Record<string, ParamValue>;
}

export interface QueryParameter {
  name?: string;
  parameterType: ParamType;
  parameterValue?: ParamValue;
}

/** Parameters ready for DuckDB: by lower-cased name, or by position. */
export interface DuckParams {
  values: Record<string, DuckDBValue> | DuckDBValue[];
  types: Record<string, DuckDBType> | DuckDBType[];
}

const NUMERIC_SCALE = 9;

function duckType(type: ParamType): DuckDBType {
  switch (type.type.toUpperCase()) {
    case 'STRING':
    case 'GEOGRAPHY':
    case 'JSON':
      return VARCHAR;
    case 'INT64':
    case 'INTEGER':
      return BIGINT;
    case 'FLOAT64':
    case 'FLOAT':
      return DOUBLE;
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return DECIMAL(38, NUMERIC_SCALE);
    case 'BOOL':
    case 'BOOLEAN':
      return BOOLEAN;
    case 'TIMESTAMP':
      return TIMESTAMPTZ;
    case 'DATETIME':
      return TIMESTAMP;
    case 'DATE':
      return DATE;
    case 'TIME':
      return TIME;
    case 'BYTES':
      return BLOB;
    case 'ARRAY':
      if (!type.arrayType) throw invalidQuery('ARRAY parameter without arrayType');
      return LIST(duckType(type.arrayType));
    case 'STRUCT':
      return STRUCT(
        Object.fromEntries(
          (type.structTypes ?? []).map((s, i) => [s.name ?? `_field_${i + 1}`, duckType(s.type)]),
        ),
      );
    default:
      throw invalidQuery(`Unsupported query parameter type: ${type.type}`);
  }
}

function scaledDecimal(text: string): bigint {
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/.exec(text);
  if (!m || (m[2] === '' && !m[3])) throw invalidQuery(`Invalid NUMERIC parameter: ${text}`);
  const digits = `${m[2] || '0'}${(m[3] ?? '').slice(0, NUMERIC_SCALE).padEnd(NUMERIC_SCALE, '0')}`;
  return (m[1] === '-' ? -1n : 1n) * BigInt(digits);
}

function duckValue(type: ParamType, param: ParamValue | undefined, name: string): DuckDBValue {
  const kind = type.type.toUpperCase();
  if (kind === 'ARRAY') {
    if (!param?.arrayValues) return param?.value === undefined || param.value === null ? listValue([]) : null;
    return listValue(param.arrayValues.map((v) => duckValue(type.arrayType as ParamType, v, name)));
  }
  if (kind === 'STRUCT') {
    if (!param?.structValues) return null;
    const values = param.structValues;
    return structValue(
      Object.fromEntries(
        (type.structTypes ?? []).map((s, i) => {
          const key = s.name ?? `_field_${i + 1}`;
          return [key, duckValue(s.type, values[key], `${name}.${key}`)];
        }),
      ),
    );
  }
  // The REST API carries values as strings, but the Node client sends numbers and booleans as JSON.
  const value: unknown = param?.value;
  if (value === undefined || value === null) return null;
  const raw = String(value);
  const bad = (): never => {
    throw invalidQuery(`Invalid ${kind} value for query parameter ${name}: ${raw}`);
  };
  switch (kind) {
    case 'INT64':
    case 'INTEGER':
      return /^\s*[+-]?\d+\s*$/.test(raw) ? BigInt(raw.trim()) : bad();
    case 'FLOAT64':
    case 'FLOAT': {
      const n = Number(raw);
      return Number.isNaN(n) && !/^nan$/i.test(raw.trim()) ? bad() : n;
    }
    case 'BOOL':
    case 'BOOLEAN':
      return /^(true|false)$/i.test(raw.trim()) ? raw.trim().toLowerCase() === 'true' : bad();
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return decimalValue(scaledDecimal(raw), 38, NUMERIC_SCALE);
    case 'TIMESTAMP': {
      const micros = parseTimestampMicros(raw);
      return micros === undefined ? bad() : timestampTZValue(micros);
    }
    case 'DATETIME': {
      const text = normalizeDatetime(raw);
      const micros = text === undefined ? undefined : parseTimestampMicros(`${text}Z`);
      return micros === undefined ? bad() : timestampValue(micros);
    }
    case 'DATE': {
      const text = normalizeDate(raw) ?? bad();
      const [y, m, d] = text.split('-').map(Number) as [number, number, number];
      return dateValue(daysFromCivil(y, m, d));
    }
    case 'TIME': {
      const micros = parseTimestampMicros(`1970-01-01 ${normalizeTime(raw) ?? bad()}Z`);
      return micros === undefined ? bad() : timeValue(micros);
    }
    case 'BYTES':
      return blobValue(new Uint8Array(Buffer.from(raw, 'base64')));
    default:
      return raw;
  }
}

/**
 * Converts the request's queryParameters for DuckDB. Named parameters the SQL does not use are
 * dropped (DuckDB rejects unused ones); missing ones are an invalidQuery error as in BigQuery.
 */
export function toDuckParams(
  parameters: QueryParameter[] | undefined,
  mode: string | undefined,
  used: { namedParams: Set<string>; positionalParams: number },
): DuckParams | undefined {
  const list = parameters ?? [];
  const positional = mode?.toUpperCase() === 'POSITIONAL' || (list.length > 0 && list.every((p) => !p.name));
  if (positional) {
    if (list.length < used.positionalParams) throw invalidQuery('Not enough positional query parameters');
    if (used.positionalParams === 0) return undefined;
    const used_ = list.slice(0, used.positionalParams);
    return {
      values: used_.map((p, i) => duckValue(p.parameterType, p.parameterValue, `#${i + 1}`)),
      types: used_.map((p) => duckType(p.parameterType)),
    };
  }
  if (used.namedParams.size === 0) return undefined;
  const values: Record<string, DuckDBValue> = {};
  const types: Record<string, DuckDBType> = {};
  for (const p of list) {
    const name = (p.name ?? '').toLowerCase();
    if (!used.namedParams.has(name)) continue;
    values[name] = duckValue(p.parameterType, p.parameterValue, name);
    types[name] = duckType(p.parameterType);
  }
  for (const name of used.namedParams) {
    if (!(name in values)) throw invalidQuery(`Query parameter '${name}' not found`);
  }
  return { values, types };
}
