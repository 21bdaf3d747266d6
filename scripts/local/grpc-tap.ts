// A counting proxy in front of a plaintext gRPC emulator (Pub/Sub, Firestore): clients point at it
// instead of the emulator and every call passes through unchanged, while each complete gRPC message of
// either direction is handed to a callback with the call's method. The cost bench counts billed units
// this way without touching the code under test.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

/** One gRPC message seen on a call: `request` from the client, `response` from the emulator. */
export interface TapMessage {
  /** `/google.pubsub.v1.Publisher/Publish` */
  readonly method: string;
  /** Numbers the calls through the tap, so requests and responses of one call can be paired. */
  readonly call: number;
  readonly direction: 'request' | 'response';
  /** The message bytes (without the 5-byte gRPC prefix); compressed messages are passed as is. */
  readonly message: Buffer;
  readonly compressed: boolean;
}

export interface GrpcTap {
  /** `127.0.0.1:PORT`, for PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST. */
  readonly host: string;
  /** Calls started through the tap, by method. */
  calls(): Readonly<Record<string, number>>;
  /** Closes the listener and every session. Safe to call twice. */
  stop(): Promise<void>;
}

/** Splits a gRPC byte stream into its length-prefixed messages, keeping at most one partial message. */
class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly onMessage: (message: Buffer, compressed: boolean) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) return;
      this.onMessage(this.pending.subarray(5, 5 + length), this.pending[0] === 1);
      this.pending = this.pending.subarray(5 + length);
    }
  }
}

/** The upstream session of each client session (one connection to the emulator per client connection). */
const outbounds = new WeakMap<http2.Http2Session, http2.ClientHttp2Session>();

const HOP_HEADERS = new Set([':scheme', ':authority', 'connection', 'keep-alive', 'transfer-encoding']);

/** Starts a tap on a free port that forwards to `upstream` (`host:port`, plaintext HTTP/2). */
export async function startGrpcTap(
  upstream: string,
  onMessage: (message: TapMessage) => void,
): Promise<GrpcTap> {
  const calls: Record<string, number> = {};
  let callCount = 0;
  const sessions = new Set<http2.Http2Session>();
  const server = http2.createServer();
  server.on('session', (inbound) => {
    const outbound = http2.connect(`http://${upstream}`);
    outbounds.set(inbound, outbound);
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.close());
    inbound.on('error', () => outbound.destroy());
    sessions.add(inbound).add(outbound);
    inbound.on('close', () => sessions.delete(inbound));
    outbound.on('close', () => sessions.delete(outbound));
  });
  server.on('stream', (stream, headers) => {
    const method = String(headers[':path'] ?? '');
    calls[method] = (calls[method] ?? 0) + 1;
    const call = ++callCount;
    const forwarded = Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_HEADERS.has(k)));
    const outbound = stream.session ? outbounds.get(stream.session) : undefined;
    if (!outbound || outbound.closed || outbound.destroyed) {
      stream.respond({ ':status': 502 }, { endStream: true });
      return;
    }
    const upstreamCall = outbound.request(forwarded);
    const requests = new FrameReader((message, compressed) =>
      onMessage({ method, call, direction: 'request', message, compressed }),
    );
    const responses = new FrameReader((message, compressed) =>
      onMessage({ method, call, direction: 'response', message, compressed }),
    );
    stream.on('data', (chunk: Buffer) => {
      requests.push(chunk);
      upstreamCall.write(chunk);
    });
    stream.on('end', () => upstreamCall.end());
    stream.on('close', () => {
      if (!upstreamCall.closed) upstreamCall.close(http2.constants.NGHTTP2_CANCEL);
    });
    let trailers: http2.IncomingHttpHeaders = {};
    upstreamCall.on('response', (head) => {
      // A trailers-only answer (an error) carries grpc-status in its headers and ends the stream.
      const trailersOnly = head['grpc-status'] !== undefined;
      if (!stream.closed) stream.respond(head, trailersOnly ? {} : { waitForTrailers: true });
    });
    upstreamCall.on('trailers', (t) => (trailers = t));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    upstreamCall.on('data', (chunk: Buffer) => {
      responses.push(chunk);
      if (!stream.closed) stream.write(chunk);
    });
    upstreamCall.on('end', () => {
      if (!stream.closed) stream.end();
    });
    upstreamCall.on('error', () => {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    stream.on('error', () => upstreamCall.close(http2.constants.NGHTTP2_CANCEL));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    host: `127.0.0.1:${port}`,
    calls: () => ({ ...calls }),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      });
      return stopped;
    },
  };
}
