// A TCP proxy that can be frozen: the relays reach the Firestore emulator through it, so the chaos
// scenario `control-plane-loss` can make Firestore unreachable for the relays only, while the writer
// (and its checkpoints) and the test's own reads keep the direct path. Frozen, it stops moving bytes both
// ways and holds new connections unanswered, as a partition would (no reset: clients time out).
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  /** host:port to give clients instead of the target. */
  readonly host: string;
  freeze(): void;
  thaw(): void;
  readonly frozen: boolean;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly toUpstream: Buffer[];
  readonly toClient: Buffer[];
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const [targetHost, targetPort] = splitHost(target);
  const pairs = new Set<Pair>();
  const held: Socket[] = [];
  let frozen = false;

  // Bytes are forwarded by hand, not piped: a pipe resumes a paused source on drain, and a frozen proxy
  // must move nothing. What arrives while frozen waits in `queued` (bounded: both sockets are paused).
  const forward = (from: Socket, to: Socket, queued: Buffer[]) =>
    from.on('data', (chunk: Buffer) => (frozen ? queued.push(chunk) : to.write(chunk)));
  const link = (client: Socket) => {
    const upstream = connect(targetPort, targetHost);
    const pair: Pair = { client, upstream, toUpstream: [], toClient: [] };
    pairs.add(pair);
    forward(client, upstream, pair.toUpstream);
    forward(upstream, client, pair.toClient);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  };

  const server: Server = createServer((client) => {
    if (frozen) {
      client.pause();
      client.on('error', () => client.destroy());
      held.push(client);
    } else link(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    host: `127.0.0.1:${port}`,
    get frozen() {
      return frozen;
    },
    freeze() {
      frozen = true;
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const pair of pairs) {
        for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
        for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
        pair.client.resume();
        pair.upstream.resume();
      }
      for (const client of held.splice(0)) {
        if (!client.destroyed) {
          link(client);
          client.resume();
        }
      }
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      for (const client of held.splice(0)) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function splitHost(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  const port = Number(hostPort.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new Error(`expected host:port, not "${hostPort}"`);
  return [hostPort.slice(0, i), port];
}
