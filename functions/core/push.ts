/** A Pub/Sub push request body, as the push endpoint receives it. */
export interface PushEnvelope {
  readonly message: {
    readonly data: Buffer;
    readonly rawData: string;
    readonly attributes: Readonly<Record<string, string>>;
    readonly messageId: string;
    readonly publishTime: string | undefined;
  };
  readonly subscription: string;
  readonly deliveryAttempt: number | undefined;
}

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Parses a push body; throws EnvelopeError when it is not a Pub/Sub push at all. */
export function parsePushEnvelope(body: unknown): PushEnvelope {
  if (typeof body !== 'object' || body === null) throw new EnvelopeError('body is not a JSON object');
  const { message, subscription, deliveryAttempt } = body as Record<string, unknown>;
  if (typeof message !== 'object' || message === null) throw new EnvelopeError('body has no message object');
  if (typeof subscription !== 'string' || subscription === '')
    throw new EnvelopeError('body has no subscription');
  const { data, attributes, messageId, message_id, publishTime } = message as Record<string, unknown>;
  const id =
    typeof messageId === 'string' ? messageId : typeof message_id === 'string' ? message_id : undefined;
  if (!id) throw new EnvelopeError('message has no messageId');
  const rawData = data === undefined ? '' : data;
  if (typeof rawData !== 'string') throw new EnvelopeError('message data is not a string');
  const attrs: Record<string, string> = {};
  if (attributes !== undefined && attributes !== null) {
    if (typeof attributes !== 'object' || Array.isArray(attributes)) {
      throw new EnvelopeError('message attributes are not an object');
    }
    for (const [key, value] of Object.entries(attributes)) {
      if (typeof value !== 'string') throw new EnvelopeError(`attribute ${key} is not a string`);
      attrs[key] = value;
    }
  }
  return {
    message: {
      // Undecodable base64 is kept (rawData) and quarantined by the writer rather than rejected here:
      // Pub/Sub would redeliver a 4xx forever.
      data: BASE64.test(rawData) ? Buffer.from(rawData, 'base64') : Buffer.alloc(0),
      rawData,
      attributes: attrs,
      messageId: id,
      publishTime: typeof publishTime === 'string' ? publishTime : undefined,
    },
    subscription,
    deliveryAttempt: typeof deliveryAttempt === 'number' ? deliveryAttempt : undefined,
  };
}

export function isValidBase64(raw: string): boolean {
  return BASE64.test(raw) && raw.length % 4 !== 1;
}
