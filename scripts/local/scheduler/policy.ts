// Cloud Scheduler's execution rules that need no I/O: retry backoff, attempt deadlines, the status code
// an HTTP answer becomes, and the protobuf Timestamp/Duration shapes on the wire.

/** gRPC status codes (google.rpc.Code) the stand-in uses. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type CodeValue = (typeof Code)[keyof typeof Code];

/** google.protobuf.Duration / Timestamp as the client and proto-loader carry them (`longs: String`). */
export interface ProtoTime {
  seconds?: string | number | { toString(): string } | null;
  nanos?: number | null;
}

export function toMillis(value: ProtoTime | null | undefined): number | undefined {
  if (!value) return undefined;
  return Number(value.seconds ?? 0) * 1000 + Math.round((value.nanos ?? 0) / 1e6);
}

export function timestamp(ms: number): { seconds: string; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1e6 };
}

export interface RetryPolicy {
  /** Retries after the first attempt, 0-5. */
  readonly retryCount: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly maxDoublings: number;
  /** 0: unlimited. */
  readonly maxRetryDurationMs: number;
}

/** Cloud Scheduler's defaults for a job without (part of) a retryConfig. */
export const DEFAULT_RETRY: RetryPolicy = {
  retryCount: 0,
  minBackoffMs: 5_000,
  maxBackoffMs: 3_600_000,
  maxDoublings: 5,
  maxRetryDurationMs: 0,
};

/** Default attempt deadline of an HTTP target. */
export const DEFAULT_ATTEMPT_DEADLINE_MS = 180_000;

export interface RetryConfigLike {
  retryCount?: number | null;
  maxRetryDuration?: ProtoTime | null;
  minBackoffDuration?: ProtoTime | null;
  maxBackoffDuration?: ProtoTime | null;
  maxDoublings?: number | null;
}

export function retryPolicy(config: RetryConfigLike | null | undefined): RetryPolicy {
  const ms = (value: ProtoTime | null | undefined, fallback: number) => {
    const n = toMillis(value);
    return n === undefined || n <= 0 ? fallback : n;
  };
  return {
    retryCount: config?.retryCount ?? DEFAULT_RETRY.retryCount,
    minBackoffMs: ms(config?.minBackoffDuration, DEFAULT_RETRY.minBackoffMs),
    maxBackoffMs: ms(config?.maxBackoffDuration, DEFAULT_RETRY.maxBackoffMs),
    maxDoublings: config?.maxDoublings ?? DEFAULT_RETRY.maxDoublings,
    maxRetryDurationMs: ms(config?.maxRetryDuration, 0),
  };
}

/**
 * Wait before retry `retry` (0 = the first retry). As documented for Cloud Scheduler: the interval starts
 * at minBackoff, doubles maxDoublings times, then grows linearly by that last interval, capped at maxBackoff
 * (min 10 s, max 300 s, 3 doublings: 10, 20, 40, 80, 160, 240, 300, 300 s).
 */
export function backoffMs(retry: number, policy: RetryPolicy): number {
  const doublings = Math.max(0, policy.maxDoublings);
  const interval =
    retry <= doublings
      ? policy.minBackoffMs * 2 ** retry
      : policy.minBackoffMs * 2 ** doublings * (retry - doublings + 1);
  return Math.min(interval, policy.maxBackoffMs);
}

/** The status code a job's `status` carries for an HTTP answer (the usual HTTP to gRPC mapping). */
export function codeForHttpStatus(status: number): CodeValue {
  if (status >= 200 && status < 300) return Code.OK;
  switch (status) {
    case 400:
      return Code.INVALID_ARGUMENT;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.NOT_FOUND;
    case 409:
      return Code.ABORTED;
    case 429:
      return Code.RESOURCE_EXHAUSTED;
    case 499:
      return Code.CANCELLED;
    case 501:
      return Code.UNIMPLEMENTED;
    case 503:
      return Code.UNAVAILABLE;
    case 504:
      return Code.DEADLINE_EXCEEDED;
    default:
      return status >= 500 ? Code.INTERNAL : Code.UNKNOWN;
  }
}
