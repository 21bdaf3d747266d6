// What every ops command shares: where it writes, the environment it reads, and its error types.
import { streamId, type StreamKey } from '../../functions/core/model/streams.ts';

export interface Io {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** One line of the command's result (stdout). */
  out(line: string): void;
  /** One line of diagnostics (stderr). */
  err(line: string): void;
}

/** Bad arguments: the message says which, and the command exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation itself failed (exit 1); the message is for the operator. */
export class OpsError extends Error {
  override readonly name = 'OpsError';
}

/** Refuses a stream that RELAY_STREAMS (when known) does not list. */
export function knownStream(stream: StreamKey, configured: readonly StreamKey[] | null): void {
  if (configured === null) return;
  const id = streamId(stream);
  if (!configured.some((s) => streamId(s) === id)) {
    throw new UsageError(
      `unknown stream "${id}": RELAY_STREAMS lists ${configured.map(streamId).join(', ')}`,
    );
  }
}
