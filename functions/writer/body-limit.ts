/**
 * The writer's body limit, enforced before any body is read. functions-framework 5.0.5 parses every body
 * (JSON, text, raw; gzip inflated) up to a fixed 1 GiB before the handler runs, with no option to lower it
 * (build/src/server.js). Node announces each request on the `http.server.request.start` diagnostics channel
 * before the server's request listeners run; at the first one, this guard goes in front of them.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';

/** Why a request is refused before its body reaches the framework's parsers. */
export interface BodyRefusal {
  readonly status: 413 | 415;
  readonly detail: string;
  /** The declared or received size, when known. */
  readonly bytes?: number;
}

/** Counts and logs a refusal; returns fields added to the JSON reply. */
export type OnBodyRefused = (refusal: BodyRefusal) => Record<string, unknown>;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The refusal a request's headers alone decide, or undefined when its body may be read. */
export function refusalFromHeaders(
  headers: IncomingHttpHeaders,
  limitBytes: number,
): BodyRefusal | undefined {
  const encoding = (headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') {
    // Pub/Sub never compresses a push; the framework would inflate it past any limit.
    return { status: 415, detail: `content-encoding ${encoding} is not accepted` };
  }
  const declared = Number(headers['content-length']);
  if (declared > limitBytes) {
    return { status: 413, detail: `body of ${declared} bytes exceeds ${limitBytes}`, bytes: declared };
  }
  return undefined;
}

/** Puts the body limit in front of every HTTP server of this process (the framework's one). */
export function enforceBodyLimit(limitBytes: number, onRefused: OnBodyRefused): void {
  const guarded = new WeakSet<Server>();
  subscribe('http.server.request.start', (message) => {
    const { server } = message as { server: Server };
    if (guarded.has(server)) return;
    guarded.add(server);
    const listeners = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const refusal = refusalFromHeaders(req.headers, limitBytes);
      if (refusal) {
        refuse(res, refusal, onRefused);
        return;
      }
      // Chunked: no declared length (Node refuses a request declaring both).
      if (req.headers['transfer-encoding'] !== undefined) capUndeclaredBody(req, res, limitBytes, onRefused);
      for (const listener of listeners) listener.call(server, req, res);
    });
  });
}

/** A body without a declared length (chunked) is counted as it arrives and cut once past the limit. */
function capUndeclaredBody(
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
  onRefused: OnBodyRefused,
): void {
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received <= limitBytes || res.headersSent) return;
    // The framework's parser is reading too: the connection closes once the reply is out, so it stops.
    res.setHeader('connection', 'close');
    refuse(res, { status: 413, detail: `body exceeds ${limitBytes} bytes`, bytes: received }, onRefused);
    res.once('finish', () => req.destroy());
  });
}

/** Answers the refusal; Node reads and discards a body left unread, so the client gets the reply. */
function refuse(res: ServerResponse, refusal: BodyRefusal, onRefused: OnBodyRefused): void {
  const body = { status: refusal.status, outcome: 'rejected', detail: refusal.detail, ...onRefused(refusal) };
  res.writeHead(refusal.status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
