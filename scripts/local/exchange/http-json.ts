/** Small JSON helpers for the control endpoints of the local exchange stand-ins. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../../../functions/core/shared/errors.ts';

const MAX_BODY_BYTES = 64 * 1024;

export class BadRequestError extends Error {
  override readonly name = 'BadRequestError';
}

/** Reads a JSON object body; an empty body is `{}`. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequestError('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new BadRequestError('body is not JSON', { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadRequestError('body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** A non-negative finite number field, or the fallback when absent. */
export function numberField(body: Record<string, unknown>, name: string, fallback?: number): number {
  const value = body[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new BadRequestError(`"${name}" must be a non-negative number`);
  }
  return value;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Runs a control handler, mapping BadRequestError to 400 and anything else to 500. */
export async function handleControl(
  res: ServerResponse,
  run: () => Promise<unknown> | unknown,
): Promise<void> {
  try {
    const result = await run();
    if (result === undefined) sendJson(res, 404, { error: 'not found' });
    else sendJson(res, 200, result);
  } catch (error) {
    const message = errorMessage(error);
    sendJson(res, error instanceof BadRequestError ? 400 : 500, { error: message });
  }
}
