import type { Logger, Severity } from '../ports.ts';

const RANK: Record<Severity, number> = { DEBUG: 0, INFO: 1, NOTICE: 2, WARNING: 3, ERROR: 4, CRITICAL: 5 };

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
      if (fields) {
        for (const [key, value] of Object.entries(fields)) {
          entry[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
        }
      }
      write(JSON.stringify(entry));
    },
    child(fields) {
      return jsonLogger(write, { ...options, fields: { ...base, ...fields } });
    },
  };
}

export const silentLogger: Logger = { log() {}, child: () => silentLogger };

export function parseSeverity(raw: string): Severity {
  const upper = raw.toUpperCase();
  if (!(upper in RANK)) throw new Error(`expected one of ${Object.keys(RANK).join(', ')}`);
  return upper as Severity;
}
