import { NEWLINE, SCHEMA_VERSION } from './wire-layout.ts';
import { decodeColumns } from './decode-columns.ts';
import { MessageDecodeError, type DecodedBatch } from './decoded-batch.ts';
import { decodeV1 } from './message-v1.ts';

/** Decodes a v3 message, or a v2 or v1 message from a relay of an earlier version. */
export function decodeBatch(data: Buffer): DecodedBatch {
  // A v2/v3 header ends at the first newline (JSON.stringify writes none); v1 is JSON throughout.
  const newline = data.indexOf(NEWLINE);
  if (newline >= 0) {
    const header = parseJson(data.subarray(0, newline));
    if (isRecord(header) && isColumnar(header.v)) return decodeColumns(header, data.subarray(newline + 1));
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
