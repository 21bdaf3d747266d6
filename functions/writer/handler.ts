/**
 * The writer's HTTP layer, apart from the functions-framework registration (index.ts) so tests can drive
 * it: method, authentication and body shape, then the core writer decides the status (the body size is
 * refused before this, in body-limit.ts).
 */
import type { AuthDecision, Logger, PushAuthenticator } from '../core/ports.ts';
import { logSignal } from '../core/shared/signals.ts';
import { requestLogger } from '../core/shared/trace-context.ts';
import type { Writer } from '../core/writer/writer.ts';

/** The part of an Express request the handler reads. */
export interface PushHttpRequest {
  readonly method: string;
  readonly body: unknown;
  get(header: string): string | undefined;
}

/** The part of an Express response the handler writes. */
export interface PushHttpResponse {
  status(code: number): PushHttpResponse;
  json(body: unknown): unknown;
}

export interface PushHandlerDeps {
  readonly writer: Writer;
  /** Verifies push tokens; absent: PUSH_AUTH=off (the local stack and tests). */
  readonly auth: PushAuthenticator | undefined;
  readonly logger: Logger;
  /** Names the traces in log lines (`logging.googleapis.com/trace`). */
  readonly projectId: string;
  /** Resolves once the warehouse exists (local runs may create it on first use); absent: it exists. */
  readonly warehouseReady?: () => Promise<void>;
}

const ALLOWED: AuthDecision = { ok: true };

export function createPushHandler(deps: PushHandlerDeps) {
  const { writer, auth } = deps;
  const reply = (res: PushHttpResponse, status: number, body: Record<string, unknown>) =>
    res.status(status).json({ status, ...body, stats: writer.quickStats() });

  return async function handle(req: PushHttpRequest, res: PushHttpResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.status(405).json({ status: 405, detail: 'POST a Pub/Sub push envelope' });
      return;
    }
    const logger = requestLogger(deps.logger, deps.projectId, (name) => req.get(name));
    const decision = auth ? await auth.authenticate(req.get('authorization')) : ALLOWED;
    if (!decision.ok) {
      const fields = { status: decision.status, reason: decision.reason };
      // 503: the verifier itself failed (e.g. Google's keys unreachable), not the caller.
      logSignal(logger, decision.status === 503 ? 'writer_auth_unavailable' : 'writer_auth_refused', fields);
      res
        .status(decision.status)
        .json({ status: decision.status, outcome: 'rejected', detail: decision.reason });
      return;
    }
    try {
      if (deps.warehouseReady) await deps.warehouseReady();
    } catch (error) {
      logger.log('ERROR', 'warehouse setup failed', { error });
      reply(res, 503, { outcome: 'retry', detail: 'warehouse setup failed' });
      return;
    }
    const result = await writer.handle(parseBody(req.body), logger);
    reply(res, result.status, { ...result });
  };
}

/** Express parses JSON bodies; a push sent with another content type arrives as text or bytes. */
function parseBody(body: unknown): unknown {
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return body;
  try {
    return JSON.parse(body.toString());
  } catch {
    return undefined; // not JSON: not a push (400)
  }
}
