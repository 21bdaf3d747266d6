import type { Logger, Severity } from '../../../functions/core/ports.ts';

export class MemoryLogger implements Logger {
  readonly entries: { severity: Severity; message: string; fields: Record<string, unknown> }[] = [];
  log(severity: Severity, message: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ severity, message, fields });
  }
  child(): Logger {
    return this;
  }
  with(message: string) {
    return this.entries.filter((e) => e.message.startsWith(message));
  }
}
