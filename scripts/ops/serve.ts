// `ops serve`: the status page of one deployment on a plain node:http server. `/` is the page (static
// files in status/), `/api/status` the same data as JSON; the page polls it. Concurrent requests share
// one read, and a read younger than half the refresh period is served again, so open tabs cost no more.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GoogleAuth } from 'google-auth-library';
import { errorMessage } from '../../functions/core/shared/errors.ts';
import { readStatusEnv, type StatusEnv } from './env.ts';
import { OpsError, type Io } from './io.ts';
import { StatusSource } from './status/source.ts';
import type { StatusSnapshot } from './status/snapshot.ts';

export interface ServeArgs {
  readonly port: number;
  readonly host: string;
  readonly hours: number;
  readonly refreshMs: number;
}

export interface StatusServer {
  /** `http://host:port/` */
  readonly url: string;
  /** Stops listening and releases the clients. Safe to call twice. */
  close(): Promise<void>;
}

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
  '/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
  '/duration.js': { file: 'duration.js', type: 'text/javascript; charset=utf-8' },
};

const HEADERS = {
  // Scripts and styles come from this server only: nothing from data can run in the page.
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export async function startStatusServer(env: StatusEnv, args: ServeArgs): Promise<StatusServer> {
  if (!env.firestoreEmulatorHost || !env.bigqueryEndpoint) await requireCredentials(env.projectId);
  const source = new StatusSource(env, { hours: args.hours, refreshMs: args.refreshMs });
  const snapshots = sharedReads(() => source.read(), Math.max(250, args.refreshMs / 2));
  const server = createServer((req, res) => {
    handle(req, res, snapshots).catch((error: unknown) => send(res, 500, 'text/plain', errorMessage(error)));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(args.port, args.host, () => resolve());
    });
  } catch (error) {
    await source.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}/`,
    close() {
      closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await source.close();
      })();
      return closing;
    },
  };
}

/**
 * Fails now, clearly, when the cloud clients would find no credentials: they would otherwise fail each
 * read later, and google-gax lets that error escape as an unhandled rejection that ends the process.
 */
async function requireCredentials(projectId: string): Promise<void> {
  try {
    await new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getClient();
  } catch (error) {
    throw new OpsError(
      `no Google credentials to read project ${projectId} (${errorMessage(error)}): run ` +
        '`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS',
    );
  }
}

/** The status page of the deployment `env` describes (its variables, as `ops serve` reads them). */
export function startStatusPage(
  env: Readonly<Record<string, string | undefined>>,
  args: Partial<ServeArgs> = {},
): Promise<StatusServer> {
  return startStatusServer(readStatusEnv(env), {
    port: 0,
    host: '127.0.0.1',
    hours: 1,
    refreshMs: 5000,
    ...args,
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  snapshots: () => Promise<StatusSnapshot>,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'text/plain', 'method not allowed');
  }
  if (path === '/api/status') {
    const snapshot = await snapshots();
    // 502 when a source could not be read: the body still carries what the others said, and why.
    return send(res, snapshot.errors.length > 0 ? 502 : 200, 'application/json', JSON.stringify(snapshot));
  }
  const asset = STATIC[path];
  if (!asset) return send(res, 404, 'text/plain', 'not found');
  const body = await readFile(new URL(`./status/${asset.file}`, import.meta.url));
  return send(res, 200, asset.type, body);
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { ...HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** One read at a time; a result younger than `reuseMs` answers the next callers too. */
export function sharedReads<T>(read: () => Promise<T>, reuseMs: number): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  let last: { at: number; value: T } | undefined;
  return () => {
    if (last && Date.now() - last.at < reuseMs) return Promise.resolve(last.value);
    inFlight ??= read()
      .then((value) => {
        last = { at: Date.now(), value };
        return value;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/** `ops serve`: serves until SIGINT or SIGTERM, then closes and exits 0. */
export async function serveCommand(args: ServeArgs, env: StatusEnv, io: Io): Promise<number> {
  const server = await startStatusServer(env, args);
  io.out(`status page: ${server.url} (data as JSON: ${server.url}api/status)`);
  io.err(
    `serving ${env.streams.length} stream(s) of ${env.projectId}/${env.dataset}, last ${args.hours} h, ` +
      `refresh every ${args.refreshMs / 1000} s; Ctrl-C stops`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (received: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(received);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.err(`${signal}: stopping the status page`);
  await server.close();
  return 0;
}
