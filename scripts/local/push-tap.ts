// A counting proxy between the Pub/Sub emulator's push and the writer: each push request is forwarded
// unchanged and counted (deliveries, answers, the pushed message's data volume), so the cost bench
// measures Cloud Run requests and Pub/Sub delivery bytes without touching the writer.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PushUsage {
  /** Push requests answered (each is one Cloud Run request and one Pub/Sub push request). */
  deliveries: number;
  /** Of them, answered 2xx (acknowledged); the others are redelivered by Pub/Sub. */
  acked: number;
  /** Distinct message ids acknowledged. */
  ackedMessages: number;
  /** Data volume of the pushed messages (data, attributes, 20 B timestamp, message id). */
  messageBytes: number;
  /** The same with Pub/Sub's 1,000-byte minimum per push request. */
  billableBytes: number;
}

export interface PushTap {
  /** The URL to give the push subscription. */
  readonly url: string;
  usage(): PushUsage;
  /** Requests forwarded and not answered yet. */
  inFlight(): number;
  stop(): Promise<void>;
}

interface PushEnvelope {
  message?: { data?: string; attributes?: Record<string, string>; messageId?: string };
}

/** Data volume of one pushed message by the Pub/Sub pricing page's rule. */
function messageVolume(body: Buffer): { bytes: number; id: string | undefined } {
  try {
    const { message } = JSON.parse(body.toString('utf8')) as PushEnvelope;
    const data = message?.data ? Buffer.from(message.data, 'base64').length : 0;
    const attributes = Object.entries(message?.attributes ?? {}).reduce(
      (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
      0,
    );
    const id = message?.messageId;
    return { bytes: data + attributes + 20 + Buffer.byteLength(id ?? ''), id };
  } catch {
    return { bytes: body.length, id: undefined };
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Starts a push tap on a free port forwarding to `target` (the writer's URL). */
export async function startPushTap(target: string): Promise<PushTap> {
  const usage: PushUsage = { deliveries: 0, acked: 0, ackedMessages: 0, messageBytes: 0, billableBytes: 0 };
  const ackedIds = new Set<string>();
  let inFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    void (async () => {
      try {
        const body = await readBody(req);
        const answer = await fetch(target, {
          method: req.method ?? 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
          body: new Uint8Array(body),
        });
        const reply = Buffer.from(await answer.arrayBuffer());
        const { bytes, id } = messageVolume(body);
        usage.deliveries += 1;
        usage.messageBytes += bytes;
        usage.billableBytes += Math.max(1000, bytes);
        if (answer.status >= 200 && answer.status < 300) {
          usage.acked += 1;
          if (id !== undefined) ackedIds.add(id);
          usage.ackedMessages = ackedIds.size;
        }
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
        res.end(reply);
      } catch (error) {
        res.writeHead(502).end(String(error));
      } finally {
        inFlight--;
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    usage: () => ({ ...usage }),
    inFlight: () => inFlight,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return stopped;
    },
  };
}
