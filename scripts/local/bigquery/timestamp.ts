// Exact timestamp handling in integer microseconds: a JS Date keeps only milliseconds.

import { daysFromCivil } from '../../../functions/core/model/civil-days.ts';

export { daysFromCivil };

const MICROS_PER_SECOND = 1_000_000n;
const SECONDS_PER_DAY = 86_400n;

/** The calendar date of a day count since 1970-01-01. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp + (mp < 10 ? 3 : -9);
  return { year: era * 400 + yoe + (month <= 2 ? 1 : 0), month, day };
}

const pad = (n: number | bigint, width = 2): string => String(n).padStart(width, '0');

function validDate(year: number, month: number, day: number): boolean {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return false;
  const days = [
    31,
    year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ];
  return day <= (days[month - 1] ?? 0);
}

/** Six fractional digits from up to twelve, truncated as BigQuery does past microseconds. */
const fractionMicros = (fraction: string | undefined): bigint =>
  BigInt((fraction ?? '').slice(0, 6).padEnd(6, '0'));

const DATE_PART = String.raw`(\d{4})-(\d{1,2})-(\d{1,2})`;
const TIME_PART = String.raw`(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,12}))?)?`;
const TIMESTAMP_RE = new RegExp(
  String.raw`^${DATE_PART}(?:[Tt ]${TIME_PART})?\s*(Z|z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$`,
);
const DATETIME_RE = new RegExp(String.raw`^${DATE_PART}(?:[Tt ]${TIME_PART})?$`);
const DATE_RE = new RegExp(String.raw`^${DATE_PART}$`);
const TIME_RE = new RegExp(String.raw`^${TIME_PART}$`);
const DECIMAL_SECONDS_RE = /^([+-]?)(\d+)(?:\.(\d*))?$/;

function clockSeconds(h?: string, mi?: string, s?: string): number | undefined {
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return hour * 3600 + minute * 60 + second;
}

function offsetSeconds(zone: string | undefined): number | undefined {
  if (zone === undefined || zone === 'Z' || zone === 'z' || zone === 'UTC') return 0;
  const m = /^([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(zone);
  if (!m) return undefined;
  const value = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60;
  return m[1] === '-' ? -value : value;
}

/**
 * Microseconds since the epoch for a TIMESTAMP value as BigQuery accepts it: an ISO or
 * 'YYYY-MM-DD HH:MM:SS[.ffffff][zone]' string, or seconds since the epoch (number or numeric string).
 */
export function parseTimestampMicros(value: unknown): bigint | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? BigInt(Math.round(value * 1e6)) : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const seconds = DECIMAL_SECONDS_RE.exec(text);
  if (seconds) {
    const micros = BigInt(seconds[2] ?? '0') * MICROS_PER_SECOND + fractionMicros(seconds[3]);
    return seconds[1] === '-' ? -micros : micros;
  }
  if (/^[+-]?\d+(\.\d+)?[eE][+-]?\d+$/.test(text)) return parseTimestampMicros(Number(text));
  const m = TIMESTAMP_RE.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validDate(year, month, day)) return undefined;
  const clock = clockSeconds(m[4], m[5], m[6]);
  const offset = offsetSeconds(m[8]);
  if (clock === undefined || offset === undefined) return undefined;
  const wholeSeconds = BigInt(daysFromCivil(year, month, day)) * SECONDS_PER_DAY + BigInt(clock - offset);
  return wholeSeconds * MICROS_PER_SECOND + fractionMicros(m[7]);
}

/** ISO-like text DuckDB reads exactly as BigQuery would (at most microseconds, numeric zone). */
const DUCK_READY_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A TIMESTAMP value as text for DuckDB's TIMESTAMPTZ (the session zone is UTC). The common
 * ISO form passes through after a range check; anything else goes through exact microseconds.
 */
export function timestampForDuck(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const m = DUCK_READY_RE.exec(value);
    if (
      m &&
      validDate(Number(m[1]), Number(m[2]), Number(m[3])) &&
      clockSeconds(m[4], m[5], m[6]) !== undefined
    ) {
      return value;
    }
  }
  const micros = parseTimestampMicros(value);
  return micros === undefined ? undefined : microsToDuckTimestamp(micros);
}

/** A DATE string normalized to YYYY-MM-DD, or undefined when it is not a valid date. */
export function normalizeDate(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = DATE_RE.exec(value.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return validDate(year, month, day) ? `${pad(year, 4)}-${pad(month)}-${pad(day)}` : undefined;
}

/** A DATETIME string normalized to 'YYYY-MM-DD HH:MM:SS.ffffff'. */
export function normalizeDatetime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = DATETIME_RE.exec(value.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validDate(year, month, day) || clockSeconds(m[4], m[5], m[6]) === undefined) return undefined;
  const clock = `${pad(Number(m[4] ?? 0))}:${pad(Number(m[5] ?? 0))}:${pad(Number(m[6] ?? 0))}`;
  return `${pad(year, 4)}-${pad(month)}-${pad(day)} ${clock}.${pad(fractionMicros(m[7]), 6)}`;
}

/** A TIME string normalized to 'HH:MM:SS.ffffff'. */
export function normalizeTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TIME_RE.exec(value.trim());
  if (!m || clockSeconds(m[1], m[2], m[3]) === undefined) return undefined;
  return `${pad(Number(m[1]))}:${pad(Number(m[2]))}:${pad(Number(m[3] ?? 0))}.${pad(fractionMicros(m[4]), 6)}`;
}

function splitMicros(micros: bigint): { days: number; secondOfDay: number; fraction: bigint } {
  const perDay = SECONDS_PER_DAY * MICROS_PER_SECOND;
  let days = micros / perDay;
  let rest = micros % perDay;
  if (rest < 0n) {
    rest += perDay;
    days -= 1n;
  }
  return {
    days: Number(days),
    secondOfDay: Number(rest / MICROS_PER_SECOND),
    fraction: rest % MICROS_PER_SECOND,
  };
}

/** 'YYYY-MM-DD' + separator + 'HH:MM:SS.ffffff' of a microsecond instant in UTC. */
export function formatMicros(micros: bigint, separator: 'T' | ' ' = 'T', alwaysFraction = true): string {
  const { days, secondOfDay, fraction } = splitMicros(micros);
  const { year, month, day } = civilFromDays(days);
  const clock = `${pad(Math.floor(secondOfDay / 3600))}:${pad(Math.floor(secondOfDay / 60) % 60)}:${pad(secondOfDay % 60)}`;
  const frac = alwaysFraction || fraction !== 0n ? `.${pad(fraction, 6)}` : '';
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}${separator}${clock}${frac}`;
}

/** The ISO 8601 form the API uses for ISO8601_STRING output: '2024-01-02T03:04:05.123456Z'. */
export const microsToIso = (micros: bigint): string => `${formatMicros(micros)}Z`;

/** The form DuckDB parses for a TIMESTAMPTZ: '2024-01-02 03:04:05.123456+00'. */
export const microsToDuckTimestamp = (micros: bigint): string => `${formatMicros(micros, ' ')}+00`;

/** Seconds since the epoch as an exact decimal string (the API's FLOAT64 timestamp output). */
export function microsToSecondsString(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const fraction = (abs % MICROS_PER_SECOND).toString().padStart(6, '0').replace(/0+$/, '');
  const whole = (abs / MICROS_PER_SECOND).toString();
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}
