/** An exchange refused a configured stream (e.g. an unknown symbol): retrying cannot help. */
export class FeedRejectedError extends Error {
  override readonly name = 'FeedRejectedError';
  constructor(
    readonly exchange: string,
    /** The configured symbols the refusal names (all of the exchange's when it names none). */
    readonly symbols: readonly string[],
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${exchange} rejected the subscription for ${symbols.join(', ')}: ${reason}`, options);
  }
}
