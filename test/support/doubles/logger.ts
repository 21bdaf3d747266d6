import type { Logger, Severity } from '../../../functions/core/ports.ts';

/** One log line as the Logger port received it. */
export interface LogEntry {
  readonly severity: Severity;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A Logger double: keeps every entry in memory; a child's entries carry its fields and land here too. */
export class MemoryLogger implements Logger {
  constructor(
    readonly entries: LogEntry[] = [],
    private readonly bound: Record<string, unknown> = {},
  ) {}

  log(severity: Severity, message: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ severity, message, fields: { ...this.bound, ...fields } });
  }

  child(fields: Record<string, unknown>): Logger {
    return new MemoryLogger(this.entries, { ...this.bound, ...fields });
  }

  /** The entries whose message starts with `message`. */
  with(message: string): LogEntry[] {
    return this.entries.filter((e) => e.message.startsWith(message));
  }
}
