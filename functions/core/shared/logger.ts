import type { Logger, Severity } from '../ports.ts';

const RANK: Record<Severity, number> = { DEBUG: 0, INFO: 1, NOTICE: 2, WARNING: 3, ERROR: 4, CRITICAL: 5 };
/** How deep a `cause` chain is followed (a cycle or a runaway chain stops here). */
const MAX_CAUSES = 5;

/**
 * A logger writing one JSON object per line, the shape Cloud Logging parses from stdout.
 * `write` is injected (stdout in the deployables, an array in tests).
 */
export function jsonLogger(
  write: (line: string) => void,
  options: { level?: Severity; fields?: Record<string, unknown> } = {},
): Logger {
  const min = RANK[options.level ?? 'INFO'];
  const base = options.fields ?? {};
  return {
    log(severity, message, fields) {
      if (RANK[severity] < min) return;
      const entry: Record<string, unknown> = { severity, message, time: new Date().toISOString(), ...base };
      let error: Error | undefined;
      if (fields) {
        for (const [key, value] of Object.entries(fields)) {
          if (value instanceof Error) error ??= value;
          entry[key] = value instanceof Error ? errorFields(value) : value;
        }
      }
      // Error Reporting reads `stack_trace` first; only failures (ERROR and above) should reach it.
      if (error && RANK[severity] >= RANK.ERROR) entry['stack_trace'] = stackTrace(error);
      write(JSON.stringify(entry));
    },
    child(fields) {
      return jsonLogger(write, { ...options, fields: { ...base, ...fields } });
    },
  };
}

/** An error as a log field: name, message and its `cause` chain, without the stack. */
export function errorFields(error: Error, depth = 0): Record<string, unknown> {
  const fields: Record<string, unknown> = { name: error.name, message: error.message };
  const { cause } = error;
  if (cause === undefined) return fields;
  if (depth >= MAX_CAUSES) fields['cause'] = '(cause chain truncated)';
  else fields['cause'] = cause instanceof Error ? errorFields(cause, depth + 1) : String(cause);
  return fields;
}

/** The error's stack (Node's `Name: message` + frames), then each cause's as `Caused by: ...`. */
export function stackTrace(error: Error): string {
  const parts = [error.stack ?? `${error.name}: ${error.message}`];
  let cause: unknown = error.cause;
  for (let depth = 0; cause !== undefined && depth < MAX_CAUSES; depth++) {
    parts.push(`Caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return parts.join('\n');
}

export const silentLogger: Logger = { log() {}, child: () => silentLogger };

export function parseSeverity(raw: string): Severity {
  const upper = raw.toUpperCase();
  if (!(upper in RANK)) throw new Error(`expected one of ${Object.keys(RANK).join(', ')}`);
  return upper as Severity;
}
