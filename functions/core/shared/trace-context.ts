/**
 * The trace context of an incoming request, turned into the log fields Cloud Logging joins on, so every
 * line a request logs appears under its trace. Malformed or absent headers give no fields, never an error.
 */
import type { Logger } from '../ports.ts';

export interface TraceContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** 16 lower-case hex digits; absent when the header names no span. */
  readonly spanId?: string;
  readonly sampled: boolean;
}

/** Reads one request header by name (Express's `req.get`). */
export type HeaderReader = (name: string) => string | undefined;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const CLOUD_TRACE = /^([0-9a-f]{32})(?:\/(\d{1,20}))?(?:;o=(\d+))?$/;
const MAX_UINT64 = 2n ** 64n - 1n;

/** W3C `traceparent: 00-TRACE_ID-SPAN_ID-FLAGS`; version ff and all-zero ids are invalid. */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  const match = TRACEPARENT.exec(header?.trim().toLowerCase() ?? '');
  if (!match) return undefined;
  const [, version, traceId = '', spanId = '', flags = ''] = match;
  if (version === 'ff' || (version === '00' && match[0].length !== 55)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS`; the decimal uint64 span becomes 16 hex digits. */
export function parseCloudTraceContext(header: string | undefined): TraceContext | undefined {
  const match = CLOUD_TRACE.exec(header?.trim().toLowerCase() ?? '');
  if (!match) return undefined;
  const [, traceId = '', span, options] = match;
  if (/^0+$/.test(traceId)) return undefined;
  const sampled = options !== undefined && (Number(options) & 1) === 1;
  const spanValue = span === undefined ? 0n : BigInt(span);
  if (spanValue > MAX_UINT64) return undefined;
  if (spanValue === 0n) return { traceId, sampled };
  return { traceId, spanId: spanValue.toString(16).padStart(16, '0'), sampled };
}

/** The request's trace context: W3C `traceparent` when valid, else `X-Cloud-Trace-Context`. */
export function readTraceContext(header: HeaderReader): TraceContext | undefined {
  return parseTraceparent(header('traceparent')) ?? parseCloudTraceContext(header('x-cloud-trace-context'));
}

/** The special fields Cloud Logging lifts into the entry's trace, spanId and traceSampled. */
export function traceLogFields(
  context: TraceContext | undefined,
  projectId: string,
): Record<string, unknown> {
  if (!context || !projectId) return {};
  return {
    'logging.googleapis.com/trace': `projects/${projectId}/traces/${context.traceId}`,
    ...(context.spanId ? { 'logging.googleapis.com/spanId': context.spanId } : {}),
    'logging.googleapis.com/trace_sampled': context.sampled,
  };
}

/** A child of `logger` whose every line carries the request's trace fields; `logger` itself without any. */
export function requestLogger(logger: Logger, projectId: string, header: HeaderReader): Logger {
  const fields = traceLogFields(readTraceContext(header), projectId);
  return Object.keys(fields).length > 0 ? logger.child(fields) : logger;
}
