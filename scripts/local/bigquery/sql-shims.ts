// GoogleSQL functions DuckDB lacks, as temporary macros on the stand-in's connection (never persisted).
// Functions whose arguments differ in shape (TIMESTAMP_DIFF(a, b, HOUR), ...) are rewritten in sql-rewrite.ts.

export const SHIM_MACROS: readonly string[] = [
  'unix_micros(ts) AS epoch_us(ts)',
  'unix_millis(ts) AS epoch_ms(ts)',
  'unix_seconds(ts) AS CAST(floor(epoch(ts)) AS BIGINT)',
  'timestamp_micros(x) AS make_timestamptz(CAST(x AS BIGINT))',
  'timestamp_millis(x) AS make_timestamptz(CAST(x AS BIGINT) * 1000)',
  'timestamp_seconds(x) AS make_timestamptz(CAST(x AS BIGINT) * 1000000)',
  'bq_timestamp(x) AS CAST(x AS TIMESTAMPTZ)',
  'bq_datetime(x) AS CAST(x AS TIMESTAMP)',
  'generate_uuid() AS CAST(gen_random_uuid() AS VARCHAR)',
  'safe_divide(a, b) AS CASE WHEN b = 0 THEN NULL ELSE a / b END',
  'logical_and(x) AS bool_and(x)',
  'logical_or(x) AS bool_or(x)',
  'format_timestamp(fmt, ts) AS strftime(ts, fmt)',
  'parse_timestamp(fmt, s) AS CAST(strptime(s, fmt) AS TIMESTAMPTZ)',
  'to_json_string(x) AS CAST(to_json(x) AS VARCHAR)',
  'farm_fingerprint(x) AS CAST(hash(x) >> 1 AS BIGINT)',
];

/** Statements that set up a fresh connection: UTC session time zone, then the macros. */
export const SESSION_SETUP: readonly string[] = [
  "SET TimeZone = 'UTC'",
  ...SHIM_MACROS.map((macro) => `CREATE OR REPLACE TEMP MACRO ${macro}`),
];
