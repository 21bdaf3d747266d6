import { modeOf, type BqField } from './schema-types.ts';
import { normalizeDate, normalizeDatetime, normalizeTime, timestampForDuck } from './timestamp.ts';

/** One entry of an insertErrors[].errors list. */
export interface RowError {
  reason: string;
  location: string;
  debugInfo: string;
  message: string;
}

export type RowCheck = { ok: true; row: Record<string, unknown> } | { ok: false; error: RowError };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

class InvalidValue extends Error {
  constructor(
    readonly location: string,
    message: string,
  ) {
    super(message);
  }
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

function fail(what: string, value: unknown, location: string): never {
  throw new InvalidValue(location, `Cannot convert value to ${what}: ${show(value)} (field ${location})`);
}

/** Field lookup by lower-cased name, built once per schema level. */
const fieldMaps = new WeakMap<BqField[], Map<string, BqField>>();
function fieldsByName(fields: BqField[]): Map<string, BqField> {
  let map = fieldMaps.get(fields);
  if (!map) {
    map = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
    fieldMaps.set(fields, map);
  }
  return map;
}

function scalar(field: BqField, value: unknown, location: string, skipUnknown: boolean): unknown {
  switch (field.type) {
    case 'STRING':
    case 'GEOGRAPHY':
      // Like the streaming API, numbers and booleans are accepted for a STRING column as their text.
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return fail('string', value, location);
    case 'INTEGER': {
      let n: bigint | undefined;
      if (typeof value === 'number' && Number.isInteger(value)) n = BigInt(value);
      else if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) n = BigInt(value.trim());
      if (n === undefined || n < INT64_MIN || n > INT64_MAX) return fail('integer', value, location);
      return n.toString();
    }
    case 'FLOAT': {
      if (typeof value === 'number') return value;
      if (typeof value === 'string') {
        const text = value.trim();
        if (/^[+-]?(nan|inf|infinity)$/i.test(text)) {
          if (/nan/i.test(text)) return 'NaN';
          return text.startsWith('-') ? '-Infinity' : 'Infinity';
        }
        const n = Number(text);
        if (text !== '' && Number.isFinite(n)) return n;
      }
      return fail('double', value, location);
    }
    case 'NUMERIC':
    case 'BIGNUMERIC': {
      const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      if (typeof text !== 'string' || !/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(text))
        return fail('numeric', value, location);
      const [whole = '', fraction = ''] = text.trim().replace(/^[+-]/, '').split('.');
      const tooBig = /[eE]/.test(text)
        ? Math.abs(Number(text)) >= 1e29
        : whole.replace(/^0+/, '').length > 29 || fraction.replace(/0+$/, '').length > 9;
      if (tooBig) return fail('NUMERIC (precision 38, scale 9)', value, location);
      return text.trim();
    }
    case 'BOOLEAN':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim()))
        return value.trim().toLowerCase() === 'true';
      return fail('boolean', value, location);
    case 'TIMESTAMP':
      return timestampForDuck(value) ?? fail('timestamp', value, location);
    case 'DATE':
      return normalizeDate(value) ?? fail('date', value, location);
    case 'DATETIME':
      return normalizeDatetime(value) ?? fail('datetime', value, location);
    case 'TIME':
      return normalizeTime(value) ?? fail('time', value, location);
    case 'JSON':
      if (typeof value !== 'string') return value;
      try {
        return JSON.parse(value);
      } catch {
        return fail('JSON', value, location);
      }
    case 'BYTES': {
      if (typeof value !== 'string' || !BASE64_RE.test(value)) return fail('bytes (base64)', value, location);
      // DuckDB reads a BLOB from text with \xNN escapes.
      let escaped = '';
      for (const byte of Buffer.from(value, 'base64')) escaped += `\\x${byte.toString(16).padStart(2, '0')}`;
      return escaped;
    }
    case 'RECORD':
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return fail('record', value, location);
      return record(field.fields ?? [], value as Record<string, unknown>, `${location}.`, skipUnknown);
  }
}

function fieldValue(field: BqField, value: unknown, location: string, skipUnknown: boolean): unknown {
  const mode = modeOf(field);
  if (mode === 'REPEATED') {
    if (value === null || value === undefined) return [];
    if (!Array.isArray(value))
      throw new InvalidValue(location, `Array specified for non-repeated field: ${location}.`);
    return value.map((item, i) => {
      if (item === null || item === undefined) {
        throw new InvalidValue(location, `Null value in repeated field ${location}[${i}].`);
      }
      return scalar(field, item, location, skipUnknown);
    });
  }
  if (value === null || value === undefined) {
    if (mode === 'REQUIRED') throw new InvalidValue(location, `Missing required field: ${location}.`);
    return null;
  }
  if (Array.isArray(value))
    throw new InvalidValue(location, `Array specified for non-repeated field: ${location}.`);
  return scalar(field, value, location, skipUnknown);
}

function record(
  fields: BqField[],
  json: Record<string, unknown>,
  prefix: string,
  skipUnknown: boolean,
): Record<string, unknown> {
  const byName = fieldsByName(fields);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(json)) {
    const field = byName.get(key.toLowerCase());
    if (!field) {
      if (skipUnknown) continue;
      throw new InvalidValue(`${prefix}${key}`, `no such field: ${prefix}${key}.`);
    }
    out[field.name] = fieldValue(field, json[key], `${prefix}${field.name}`, skipUnknown);
  }
  for (const field of fields) {
    if (!(field.name in out) && modeOf(field) === 'REQUIRED') {
      throw new InvalidValue(`${prefix}${field.name}`, `Missing required field: ${prefix}${field.name}.`);
    }
  }
  return out;
}

/**
 * Checks one insertAll row against the schema and returns it in the form DuckDB's from_json reads
 * (INT64 as exact strings, TIMESTAMP as 'YYYY-MM-DD HH:MM:SS.ffffff+00', ...).
 */
export function checkRow(fields: BqField[], json: unknown, ignoreUnknownValues: boolean): RowCheck {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return {
      ok: false,
      error: { reason: 'invalid', location: '', debugInfo: '', message: 'Row json must be an object.' },
    };
  }
  try {
    return { ok: true, row: record(fields, json as Record<string, unknown>, '', ignoreUnknownValues) };
  } catch (error) {
    if (!(error instanceof InvalidValue)) throw error;
    return {
      ok: false,
      error: { reason: 'invalid', location: error.location, debugInfo: '', message: error.message },
    };
  }
}
