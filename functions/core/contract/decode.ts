import { NEWLINE, SCHEMA_VERSION } from './wire-layout.ts';
import { isBundleHeader, splitBundle } from './bundle.ts';
import { decodeColumns } from './decode-columns.ts';
import { MessageDecodeError, type DecodedBatch } from './decoded-batch.ts';
import { decodeV1 } from './message-v1.ts';
import { inflateMessage } from './compression.ts';

/** One batch of a v4 bundle: its bytes, and the batch or why it cannot be read. */
export interface Section {
  readonly data: Buffer;
  readonly decoded: DecodedBatch | MessageDecodeError;
}

/** A message as read: one batch (v1-v3) or a bundle of sections (v4). */
export type DecodedMessage =
  | { readonly kind: 'batch'; readonly decoded: DecodedBatch }
  | { readonly kind: 'bundle'; readonly sections: readonly Section[] };

/**
 * Decodes any message version. Throws MessageDecodeError when the message as a whole is unreadable (for a
 * bundle: its frame); a bundle's unreadable section is returned as that section's error.
 */
export function decodeMessage(received: Buffer): DecodedMessage {
  const data = inflateMessage(received);
  const newline = data.indexOf(NEWLINE);
  const header = newline >= 0 ? parseJson(data.subarray(0, newline)) : undefined;
  if (!isRecord(header) || !isBundleHeader(header)) return { kind: 'batch', decoded: decodeBatch(data) };
  const sections = splitBundle(header, data, newline).map((bytes) => ({
    data: bytes,
    decoded: decodeSection(bytes),
  }));
  return { kind: 'bundle', sections };
}

/** A bundle's section: a v3 batch with its header line, nothing older and no bundle within a bundle. */
function decodeSection(bytes: Buffer): DecodedBatch | MessageDecodeError {
  const newline = bytes.indexOf(NEWLINE);
  const header = newline >= 0 ? parseJson(bytes.subarray(0, newline)) : undefined;
  if (!isRecord(header)) return new MessageDecodeError('bundle section has no JSON header line', 'not_json');
  if (header.v !== SCHEMA_VERSION) {
    // Named by type unless a number: a hostile version may be JSON nested too deep to stringify again.
    const version = typeof header.v === 'number' ? String(header.v) : typeof header.v;
    return new MessageDecodeError(
      `a bundle section must be a v${SCHEMA_VERSION} batch, not version ${version}`,
      'unknown_schema_version',
    );
  }
  try {
    return decodeColumns(header, bytes.subarray(newline + 1));
  } catch (error) {
    if (error instanceof MessageDecodeError) return error;
    throw error;
  }
}

/** Decodes a v3 message, or a v2 or v1 message from a relay of an earlier version (not a v4 bundle). */
export function decodeBatch(data: Buffer): DecodedBatch {
  // A v2/v3 header ends at the first newline (JSON.stringify writes none); v1 is JSON throughout.
  const newline = data.indexOf(NEWLINE);
  if (newline >= 0) {
    const header = parseJson(data.subarray(0, newline));
    if (isRecord(header) && isColumnar(header.v)) return decodeColumns(header, data.subarray(newline + 1));
    if (isRecord(header) && isBundleHeader(header)) {
      throw new MessageDecodeError(
        'a v4 bundle holds many batches (decodeMessage)',
        'unknown_schema_version',
      );
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new MessageDecodeError('message data is not JSON', 'not_json', { cause: error });
  }
  if (!isRecord(body)) throw new MessageDecodeError('message data is not a JSON object', 'not_object');
  if (body.v === 1) return decodeV1(body);
  // A columnar header without its newline can only be an empty batch; decodeColumns checks that.
  if (isColumnar(body.v)) return decodeColumns(body, Buffer.alloc(0));
  throw new MessageDecodeError(`unknown schema version ${JSON.stringify(body.v)}`, 'unknown_schema_version');
}

/** v2 and v3 are one layout: a JSON header line, then float64 columns. */
function isColumnar(version: unknown): version is 2 | 3 {
  return version === 2 || version === SCHEMA_VERSION;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
