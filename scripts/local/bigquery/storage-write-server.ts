// The BigQuery Storage Write API (gRPC `google.cloud.bigquery.storage.v1.BigQueryWrite`) on the stand-in's
// DuckDB warehouse: AppendRows on `_default` streams, so the unmodified @google-cloud/bigquery-storage
// client writes where the REST stand-in reads. Other methods answer UNIMPLEMENTED.
import { protos } from '@google-cloud/bigquery-storage';
import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  appendRows,
  errorResponse,
  grpcCodeOf,
  streamTable,
  remember,
  type AppendDeps,
  type AppendRowsResponse,
  type AppendState,
} from './storage-write-append.ts';
import type { StandinLogger } from './logger.ts';

const v1 = protos.google.cloud.bigquery.storage.v1;
type AppendRowsRequest = protos.google.cloud.bigquery.storage.v1.AppendRowsRequest;
type AppendCall = grpc.ServerDuplexStream<AppendRowsRequest, AppendRowsResponse>;

const APPEND_ROWS: grpc.MethodDefinition<AppendRowsRequest, AppendRowsResponse> = {
  path: '/google.cloud.bigquery.storage.v1.BigQueryWrite/AppendRows',
  requestStream: true,
  responseStream: true,
  requestSerialize: (m) => Buffer.from(v1.AppendRowsRequest.encode(m).finish()),
  requestDeserialize: (b) => v1.AppendRowsRequest.decode(b),
  responseSerialize: (m) =>
    Buffer.from(v1.AppendRowsResponse.encode(v1.AppendRowsResponse.fromObject(m)).finish()),
  responseDeserialize: (b) => v1.AppendRowsResponse.decode(b),
};

export interface StorageWriteServer {
  /** `host:port`, plaintext (BIGQUERY_STORAGE_EMULATOR_HOST). */
  readonly host: string;
  /** Ends open AppendRows calls and stops the server. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * One AppendRows call: requests are answered one at a time and in order, as BigQuery does (the client
 * matches answers to requests by order). Faults of the REST stand-in apply to appends as requests
 * `POST /projects/P/datasets/D/tables/T/appendRows`: a delay, an error answered in band, or no answer.
 */
function serveAppendCall(
  deps: AppendDeps,
  call: AppendCall,
  stopping: AbortSignal,
  log: StandinLogger,
): void {
  const state: AppendState = {};
  const ended = new AbortController();
  const end = (): void => ended.abort();
  call.on('cancelled', end);
  call.on('error', end);
  stopping.addEventListener('abort', end, { once: true });
  let queue = Promise.resolve();
  const answer = async (request: AppendRowsRequest): Promise<void> => {
    let response: AppendRowsResponse;
    try {
      remember(state, request);
      const { faultPath } = streamTable(deps, state.writeStream!);
      const gate = deps.faults.gate('POST', faultPath);
      if (gate.delayMs > 0) await sleep(gate.delayMs, undefined, { signal: ended.signal });
      // No answer: every later request of this call waits behind it, as on one BigQuery connection.
      if (gate.hang) await new Promise((resolve) => ended.signal.addEventListener('abort', resolve));
      if (ended.signal.aborted) return;
      response =
        gate.errorStatus === undefined
          ? await appendRows(deps, state, request)
          : { error: { code: grpcCodeOf(gate.errorStatus), message: `Injected fault ${gate.errorStatus}` } };
    } catch (error) {
      if (ended.signal.aborted) return;
      response = errorResponse(error);
    }
    if (ended.signal.aborted) return;
    log({
      severity: 'DEBUG',
      message: 'AppendRows',
      stream: state.writeStream,
      code: response.error?.code ?? 0,
    });
    call.write(response);
  };
  call.on('data', (request: AppendRowsRequest) => {
    queue = queue.then(() => answer(request));
  });
  call.on('end', () => {
    void queue.then(() => {
      stopping.removeEventListener('abort', end);
      if (!ended.signal.aborted) call.end();
    });
  });
}

/** Starts the gRPC server beside the REST one, on the same warehouse and faults. */
export async function startStorageWriteServer(
  deps: AppendDeps,
  host: string,
  port: number,
  log: StandinLogger,
): Promise<StorageWriteServer> {
  // BigQuery takes appends up to 10 MB; grpc-js would refuse anything over 4 MiB by default.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  const stopping = new AbortController();
  server.addService({ AppendRows: APPEND_ROWS } as grpc.ServiceDefinition, {
    AppendRows: (call: AppendCall) => serveAppendCall(deps, call, stopping.signal, log),
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  const address = host.includes(':') ? `[${host}]` : host;
  let stopped: Promise<void> | undefined;
  return {
    host: `${address}:${bound}`,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        stopping.abort();
        server.forceShutdown();
        resolve();
      });
      return stopped;
    },
  };
}
