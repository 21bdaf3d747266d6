// A CloudSchedulerClient for the stand-in or for the real service, chosen by an endpoint string.
import * as grpc from '@grpc/grpc-js';
import { CloudSchedulerClient } from '@google-cloud/scheduler';

/**
 * The real client on its default gRPC transport. `127.0.0.1:PORT` or `http://127.0.0.1:PORT` (the
 * stand-in) connects without TLS and without credentials, as the Pub/Sub client does for its emulator;
 * `https://host[:port]` or no endpoint uses TLS and Application Default Credentials.
 */
export function createSchedulerClient(endpoint?: string): CloudSchedulerClient {
  if (!endpoint) return new CloudSchedulerClient();
  const secure = endpoint.startsWith('https://');
  const hostPort = endpoint.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort);
  if (!match)
    throw new Error(`scheduler endpoint "${endpoint}" must be host:port, http://host:port or https://host`);
  const apiEndpoint = match[1]!;
  const port = match[2] === undefined ? (secure ? 443 : 80) : Number(match[2]);
  if (secure) return new CloudSchedulerClient({ apiEndpoint, port });
  return new CloudSchedulerClient({ apiEndpoint, port, sslCreds: grpc.credentials.createInsecure() });
}
