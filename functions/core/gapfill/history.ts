/** Why a history fetch failed, decided once here so the gap-filler's retry policy is one switch. */
export type HistoryFailure =
  /** The API key was refused (401/403): retrying will not help until someone fixes the key. */
  | 'unauthorized'
  /** The request can never succeed (400: outside the provider's data, unsupported exchange or channel). */
  | 'out_of_range'
  /** Anything transient: 5xx, 429, timeouts, network. */
  | 'unavailable';

export class HistoryError extends Error {
  override readonly name = 'HistoryError';
  constructor(
    message: string,
    readonly failure: HistoryFailure,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Classifies an HTTP status from the history provider. */
export function historyFailureForStatus(status: number): HistoryFailure {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 400 || status === 404) return 'out_of_range';
  return 'unavailable';
}
