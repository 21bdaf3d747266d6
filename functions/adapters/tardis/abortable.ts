/**
 * Iterates `source` until `signal` aborts, even while the source is stalled, mapping each value
 * (undefined results are skipped); then closes the source without waiting on it for more than a second.
 * When `failure` aborts, iteration ends by throwing its reason (a fatal condition reported out of band,
 * e.g. through tardis-dev's onError callback).
 *
 * Each wait is one fresh promise woken by the signals' listeners. Racing `source.next()` against a
 * long-lived "aborted" promise instead would attach a reaction to that promise per message, which is
 * never released: memory that grows with every tick.
 */
export async function* abortable<T, U>(
  source: AsyncIterableIterator<T>,
  signal: AbortSignal,
  map: (value: T) => U | undefined,
  failure?: AbortSignal,
): AsyncIterable<U> {
  const STOP = Symbol('stop');
  let wake: ((value: typeof STOP) => void) | undefined;
  let fail: ((error: unknown) => void) | undefined;
  const onAbort = () => wake?.(STOP);
  const onFailure = () => fail?.(failure?.reason);
  signal.addEventListener('abort', onAbort);
  failure?.addEventListener('abort', onFailure);
  try {
    for (;;) {
      if (failure?.aborted) throw failure.reason;
      if (signal.aborted) return;
      const next = await new Promise<IteratorResult<T> | typeof STOP>((resolve, reject) => {
        wake = resolve;
        fail = reject;
        source.next().then(resolve, reject);
      });
      wake = undefined;
      fail = undefined;
      if (next === STOP || next.done) return;
      const mapped = map(next.value);
      if (mapped !== undefined) yield mapped;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    failure?.removeEventListener('abort', onFailure);
    // Closing a tardis-dev generator closes its sockets or workers; a stalled one must not hold us.
    await Promise.race([source.return?.(undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}

/**
 * Pulls `source` and hands each value to `onValue` synchronously until the source ends (resolves),
 * `signal` aborts (resolves at once, even while the source is stalled) or `failure` aborts or the source
 * throws (rejects). A plain promise loop rather than an async generator, because the live feed runs it
 * per message (see docs/PERFORMANCE.md). The source is closed at the end, without waiting on it for more
 * than a second.
 */
export function drive<T>(
  source: AsyncIterableIterator<T>,
  onValue: (value: T) => void,
  signal: AbortSignal,
  failure?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const finish = (error?: unknown, failed = false) => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      failure?.removeEventListener('abort', onFailure);
      // Closing a tardis-dev generator closes its sockets or workers; a stalled one must not hold us.
      const closed = Promise.race([
        Promise.resolve(source.return?.(undefined)).catch(() => undefined),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
      if (failed) void closed.then(() => reject(error));
      else resolve();
    };
    const onAbort = () => finish();
    const onFailure = () => finish(failure?.reason, true);
    const onResult = (result: IteratorResult<T>) => {
      if (finished) return;
      if (result.done === true) return finish();
      try {
        onValue(result.value);
      } catch (error) {
        return finish(error, true);
      }
      source.next().then(onResult, onError);
    };
    const onError = (error: unknown) => finish(error, true);
    signal.addEventListener('abort', onAbort);
    failure?.addEventListener('abort', onFailure);
    if (failure?.aborted) return onFailure();
    if (signal.aborted) return onAbort();
    source.next().then(onResult, onError);
  });
}
