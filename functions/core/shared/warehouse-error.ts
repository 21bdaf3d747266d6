/**
 * A whole insert request failed (nothing of it is known inserted). Adapters throw it so the core can
 * decide without knowing the client: `too_large` requests are split, everything else is retried.
 */
export class WarehouseRequestError extends Error {
  override readonly name = 'WarehouseRequestError';
  constructor(
    message: string,
    readonly kind: 'transient' | 'too_large',
    /** HTTP status when there was a response. */
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Whether a failed insert request was refused for its size (split it; a single row that big never fits). */
export function isTooLarge(error: unknown): boolean {
  return error instanceof WarehouseRequestError && error.kind === 'too_large';
}
