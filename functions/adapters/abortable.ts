/**
 * Iterates `source` until `signal` aborts, even while the source is stalled, mapping each value
 * (undefined results are skipped); then closes the source without waiting on it for more than a second.
 */
export async function* abortable<T, U>(
  source: AsyncIterableIterator<T>,
  signal: AbortSignal,
  map: (value: T) => U | undefined,
): AsyncIterable<U> {
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) resolve('aborted');
    signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  try {
    while (!signal.aborted) {
      const next = await Promise.race([source.next(), aborted]);
      if (next === 'aborted' || next.done) return;
      const mapped = map(next.value);
      if (mapped !== undefined) yield mapped;
    }
  } finally {
    // Closing a tardis-dev generator closes its sockets or workers; a stalled one must not hold us.
    await Promise.race([source.return?.(undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}
