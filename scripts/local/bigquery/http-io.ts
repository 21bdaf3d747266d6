import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { BigQueryHttpError, invalid } from './errors.ts';

/** Larger than insertAll's 10 MB limit, so a writer's batches fit; bigger bodies are refused. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Reads and parses a JSON request body; an empty body is `{}`. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw invalid(`Request payload size exceeds the limit: ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk as Buffer);
  }
  let body = Buffer.concat(chunks);
  if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new BigQueryHttpError(400, 'parseError', `Invalid JSON payload received: ${String(error)}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status = 204): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status);
  res.end();
}
