import { errorMessage } from '../../../functions/core/shared/errors.ts';

/** The `status` strings Google APIs put next to an HTTP code. */
const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
};

/** An error answered as Google's JSON error body, so the client raises an ApiError with this code. */
export class BigQueryHttpError extends Error {
  override readonly name = 'BigQueryHttpError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The body shape `{error:{code,message,errors:[{reason,message}],status}}`. */
  toBody(): { error: Record<string, unknown> } {
    return {
      error: {
        code: this.code,
        message: this.message,
        errors: [{ message: this.message, domain: 'global', reason: this.reason }],
        status: STATUS_TEXT[this.code] ?? 'UNKNOWN',
      },
    };
  }
}

export const notFound = (what: string): BigQueryHttpError =>
  new BigQueryHttpError(404, 'notFound', `Not found: ${what}`);

export const duplicate = (what: string): BigQueryHttpError =>
  new BigQueryHttpError(409, 'duplicate', `Already Exists: ${what}`);

export const invalid = (message: string): BigQueryHttpError => new BigQueryHttpError(400, 'invalid', message);

export const invalidQuery = (message: string, cause?: unknown): BigQueryHttpError =>
  new BigQueryHttpError(400, 'invalidQuery', message, { cause });

export const resourceInUse = (message: string): BigQueryHttpError =>
  new BigQueryHttpError(400, 'resourceInUse', message);

export const unsupported = (message: string): BigQueryHttpError =>
  new BigQueryHttpError(501, 'notImplemented', `Not supported by the BigQuery stand-in: ${message}`);

/** The error body an injected fault answers with, shaped like the real service's. */
export function faultError(status: number): BigQueryHttpError {
  if (status === 429)
    return new BigQueryHttpError(429, 'rateLimitExceeded', 'Exceeded rate limits (injected)');
  if (status === 503) return new BigQueryHttpError(503, 'backendError', 'Service unavailable (injected)');
  if (status === 500) return new BigQueryHttpError(500, 'backendError', 'Internal error (injected)');
  return new BigQueryHttpError(status, 'backendError', `Error ${status} (injected)`);
}

/** The error's message without DuckDB's multi-line decoration. */
export function firstLine(error: unknown): string {
  const text = errorMessage(error);
  return text.split('\n')[0] ?? text;
}
