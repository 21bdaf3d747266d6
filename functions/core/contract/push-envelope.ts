import { createHash } from 'node:crypto';

/** A Pub/Sub push request body, as the push endpoint receives it. */
export interface PushEnvelope {
  readonly message: {
    readonly data: Buffer;
    /** The `data` field as received (base64 text), kept for quarantine. */
    readonly rawData: string;
    readonly attributes: Readonly<Record<string, string>>;
    /** Pub/Sub's message id; for a message without one, `env:` and a hash of the message. */
    readonly messageId: string;
    readonly publishTime: string | undefined;
  };
  readonly subscription: string;
  readonly deliveryAttempt: number | undefined;
  /**
   * Set when the body is a push (message + subscription) with a malformed field. Such a message can
   * never be processed, and a 4xx would make Pub/Sub redeliver it forever: it is quarantined instead.
   */
  readonly defect?: {
    readonly reason: 'bad_envelope_field';
    readonly detail: string;
    readonly payload: string;
  };
}

/** The body is not a Pub/Sub push at all (answered 4xx). */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Parses a push body. Throws EnvelopeError only when it is not a Pub/Sub push at all (not an object,
 * no `message` object, no `subscription`); a push with a bad field is returned with `defect` set.
 */
export function parsePushEnvelope(body: unknown): PushEnvelope {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new EnvelopeError('body is not a JSON object');
  }
  const { message, subscription, deliveryAttempt } = body as Record<string, unknown>;
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new EnvelopeError('body has no message object');
  }
  if (typeof subscription !== 'string' || subscription === '') {
    throw new EnvelopeError('body has no subscription');
  }
  const { data, attributes, messageId, message_id, publishTime } = message as Record<string, unknown>;
  const problems: string[] = [];
  let id =
    typeof messageId === 'string' && messageId !== ''
      ? messageId
      : typeof message_id === 'string' && message_id !== ''
        ? message_id
        : undefined;
  if (id === undefined) problems.push('message has no messageId');
  let rawData = '';
  if (typeof data === 'string') rawData = data;
  else if (data !== undefined && data !== null) problems.push('message data is not a string');
  const attrs: Record<string, string> = {};
  if (attributes !== undefined && attributes !== null) {
    if (typeof attributes !== 'object' || Array.isArray(attributes)) {
      problems.push('message attributes are not an object');
    } else {
      for (const [key, value] of Object.entries(attributes)) {
        if (typeof value === 'string') attrs[key] = value;
        else problems.push(`attribute ${key} is not a string`);
      }
    }
  }
  let defect: PushEnvelope['defect'];
  if (problems.length > 0) {
    const payload = stringifyLoose(message);
    id ??= `env:${createHash('sha256').update(payload).digest('base64url').slice(0, 22)}`;
    defect = { reason: 'bad_envelope_field', detail: problems.join('; '), payload };
  }
  return {
    message: {
      // Undecodable base64 is kept (rawData) and quarantined by the writer rather than rejected here:
      // Pub/Sub would redeliver a 4xx forever.
      data: defect === undefined && BASE64.test(rawData) ? Buffer.from(rawData, 'base64') : Buffer.alloc(0),
      rawData,
      attributes: attrs,
      messageId: id as string,
      publishTime: typeof publishTime === 'string' ? publishTime : undefined,
    },
    subscription,
    deliveryAttempt:
      typeof deliveryAttempt === 'number' && Number.isSafeInteger(deliveryAttempt)
        ? deliveryAttempt
        : undefined,
    ...(defect ? { defect } : {}),
  };
}

export function isValidBase64(raw: string): boolean {
  return BASE64.test(raw) && raw.length % 4 !== 1;
}

/** Nesting kept in quarantine evidence; deeper JSON (10,000 levels is valid JSON) would overflow the stack. */
const EVIDENCE_DEPTH = 64;

/** JSON text of a parsed value, with numbers JSON cannot hold (Infinity, NaN) kept as text and nesting past
 * EVIDENCE_DEPTH replaced by a marker, so the rest of the value (data, ids) is still kept verbatim. */
export function stringifyLoose(value: unknown): string {
  try {
    return JSON.stringify(bounded(value, EVIDENCE_DEPTH)) ?? String(value);
  } catch {
    return String(value);
  }
}

function bounded(value: unknown, depth: number): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return String(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth === 0) return `[nested deeper than ${EVIDENCE_DEPTH} levels]`;
  if (Array.isArray(value)) return value.map((item: unknown) => bounded(item, depth - 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, bounded(item, depth - 1)]));
}
