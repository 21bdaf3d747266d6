/** Exponential backoff with full jitter; `random` is injected for deterministic tests. */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(cap / 2 + (random() * cap) / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Whether a row-level insertAll failure may succeed if sent again. Only `invalid` is the row's own fault;
 * `stopped` rows were valid but held back by another row, the rest are service-side.
 */
export function isRetryableInsertReason(reason: string): boolean {
  return reason !== 'invalid';
}
