/** Severity names Cloud Logging understands. */
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

/** One structured log entry: printed as a single JSON line. */
export interface LogEntry {
  severity: Severity;
  message: string;
  [field: string]: unknown;
}

/** Where the stand-in sends its log entries. */
export type StandinLogger = (entry: LogEntry) => void;

/** The default: the stand-in is quiet unless a logger is given. */
export const quietLogger: StandinLogger = () => {};

/** Writes each entry as one JSON object per line on stdout. */
export const jsonLineLogger: StandinLogger = (entry) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
};
