import { gunzipSync, gzipSync } from 'node:zlib';
import type { EncodedMessage } from './batch.ts';
import { MessageDecodeError } from './decoded-batch.ts';

/**
 * Compressed messages (docs/COST.md, "Pub/Sub bytes"). `gzip`: a v4 bundle's data is gzipped and the
 * attribute `encoding: gzip` names it; `identity`: sent as it is. The reader recognises gzip by its magic
 * bytes (no message version starts with them: v1 is JSON, v2 and later a JSON header line), so v1-v4
 * messages sent uncompressed stay readable during a rolling deploy, whatever their attributes.
 */
export type MessageEncoding = 'gzip' | 'identity';

export const ENCODING_ATTRIBUTE = 'encoding';

/**
 * Most bytes a compressed message may inflate to: twice the largest bundle a relay sends (8 MiB,
 * RELAY_BUNDLE_MAX_BYTES). A message past it is refused whole (quarantined, never inflated further).
 */
export const MAX_INFLATED_BYTES = 16 * 1024 * 1024;

/** Level 6 (zlib's default): near level 9's ratio on tick columns at a fraction of its CPU. */
const LEVEL = 6;

export function encodeMessage(message: EncodedMessage, encoding: MessageEncoding): EncodedMessage {
  if (encoding === 'identity') return message;
  return {
    data: gzipSync(message.data, { level: LEVEL }),
    attributes: { ...message.attributes, [ENCODING_ATTRIBUTE]: encoding },
  };
}

const isGzip = (data: Buffer): boolean => data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;

/** The message's bytes as encoded by the relay: inflated when gzipped, else `data` itself. */
export function inflateMessage(data: Buffer, maxBytes = MAX_INFLATED_BYTES): Buffer {
  if (!isGzip(data)) return data;
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (error) {
    if (error instanceof RangeError || (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new MessageDecodeError(
        `gzipped message inflates past ${maxBytes} bytes (refused unread)`,
        'inflated_too_large',
        { cause: error },
      );
    }
    throw new MessageDecodeError(`gzipped message cannot be inflated: ${String(error)}`, 'bad_gzip', {
      cause: error,
    });
  }
}
