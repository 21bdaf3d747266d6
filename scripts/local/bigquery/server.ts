import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { scannedBytes } from './bytes-processed.ts';
import { BigQueryHttpError, faultError } from './errors.ts';
import { FaultInjector, type FaultConfig, type FaultCounters } from './faults.ts';
import { readJson, sendEmpty, sendJson } from './http-io.ts';
import type { RowCounters } from './insert-all.ts';
import { emptyIngestion, type IngestionCounters } from './ingestion-bytes.ts';
import { startStorageWriteServer } from './storage-write-server.ts';
import { InsertDedup } from './insert-dedup.ts';
import { JobStore } from './jobs.ts';
import type { QueryParameter } from './query-params.ts';
import { quietLogger, type StandinLogger } from './logger.ts';
import { matchRoute, unknownRoute, type ApiContext } from './routes.ts';
import { Warehouse } from './warehouse.ts';

export interface BigQueryStandinOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** A DuckDB file that keeps everything across restarts; in memory when absent. */
  dbPath?: string;
  /** insertId dedup window (default 60 s, like BigQuery's best effort of about a minute). */
  dedupWindowMs?: number;
  /** Upper bound of insertIds remembered per table (default 1,000,000; the oldest go first). */
  maxDedupIdsPerTable?: number;
  /** The project this stand-in answers for; `project.dataset.table` names with it are resolved (default 'local-project'). */
  projectId?: string;
  logger?: StandinLogger;
  /** Faults active from the start. */
  faults?: FaultConfig;
  /** Port of the Storage Write API (gRPC); 0 (the default) picks a free port. */
  storagePort?: number;
}

/** Counters served by GET /_standin/stats. */
export interface StandinStats {
  requests: number;
  byRoute: Record<string, number>;
  faults: FaultCounters;
  rows: RowCounters;
  dedupIds: number;
  hungRequests: number;
  /** Billable ingestion per API (docs/COST.md, "Ingestion"). */
  ingestion: IngestionCounters;
}

/** A running stand-in. */
export interface BigQueryStandin {
  /** Base URL for `apiEndpoint` (the client adds /bigquery/v2) or BIGQUERY_EMULATOR_HOST. */
  readonly url: string;
  readonly port: number;
  readonly projectId: string;
  /** `host:port` of the Storage Write API stand-in (plaintext gRPC): BIGQUERY_STORAGE_EMULATOR_HOST. */
  readonly storageHost: string;
  /** Replaces the active faults. */
  setFaults(config: FaultConfig): void;
  clearFaults(): void;
  /** The active faults, with the remaining `times` of insertErrors rules. */
  faults(): FaultConfig;
  stats(): StandinStats;
  resetStats(): void;
  /** Bytes `sql` reads per base table before BigQuery's 10 MiB minimum (the bytes model, for tests). */
  scannedBytes(sql: string, params?: readonly QueryParameter[]): Promise<Map<string, number>>;
  /** The DuckDB warehouse behind the API, for in-process models (the cost bench's bytes-processed runs). */
  readonly warehouse: Warehouse;
  /** Closes sockets (hung requests included) and DuckDB. Safe to call twice. */
  stop(): Promise<void>;
}

const API_PREFIX = '/bigquery/v2';
const CONTROL_PREFIX = '/_standin/';

/** Starts a local HTTP server speaking the subset of BigQuery REST v2 the project uses. */
export async function startBigQueryStandin(options: BigQueryStandinOptions = {}): Promise<BigQueryStandin> {
  const projectId = options.projectId ?? 'local-project';
  const log = options.logger ?? quietLogger;
  const warehouse = await Warehouse.open(options.dbPath, projectId);
  const faults = new FaultInjector();
  if (options.faults) faults.set(options.faults);
  const dedup = new InsertDedup(options.dedupWindowMs ?? 60_000, options.maxDedupIdsPerTable);
  const rows: RowCounters = { inserted: 0, deduplicated: 0, rejected: 0 };
  const ingestion = emptyIngestion();
  const ctx: ApiContext = {
    warehouse,
    jobs: new JobStore(),
    dedup,
    faults,
    rows,
    ingestion,
    projectIds: [projectId],
    now: () => Date.now(),
  };
  let requests = 0;
  let byRoute: Record<string, number> = {};
  const hung = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const stopping = new AbortController();

  const stats = (): StandinStats => ({
    requests,
    byRoute: { ...byRoute },
    faults: { ...faults.counters },
    rows: { ...rows },
    dedupIds: dedup.size,
    hungRequests: hung.size,
    ingestion: structuredClone(ingestion),
  });

  const resetStats = (): void => {
    requests = 0;
    byRoute = {};
    Object.assign(faults.counters, { errors: 0, timeouts: 0, delayed: 0, insertErrors: 0 });
    Object.assign(rows, { inserted: 0, deduplicated: 0, rejected: 0 });
    Object.assign(ingestion, emptyIngestion());
  };

  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /_standin/health':
        return sendJson(res, 200, { ok: true });
      case 'GET /_standin/stats':
        return sendJson(res, 200, stats());
      case 'DELETE /_standin/stats':
        resetStats();
        return sendEmpty(res);
      case 'GET /_standin/faults':
        return sendJson(res, 200, faults.current());
      case 'POST /_standin/faults':
      case 'PUT /_standin/faults':
        faults.set((await readJson(req)) as FaultConfig);
        log({ severity: 'INFO', message: 'faults set', faults: faults.current() });
        return sendJson(res, 200, faults.current());
      case 'DELETE /_standin/faults':
        faults.clear();
        return sendEmpty(res);
      default:
        return sendJson(res, 404, new BigQueryHttpError(404, 'notFound', `Not found: ${route}`).toBody());
    }
  }

  async function api(req: IncomingMessage, res: ServerResponse, rawPath: string, url: URL): Promise<void> {
    requests += 1;
    const method = req.method ?? 'GET';
    const path = rawPath.startsWith(`${API_PREFIX}/`) ? rawPath.slice(API_PREFIX.length) : rawPath;
    const decision = faults.gate(method, path);
    if (decision.delayMs > 0) await sleep(decision.delayMs, undefined, { signal: stopping.signal });
    if (decision.hang) {
      // Accepted and never answered: the client's own timeout (or stop()) ends it.
      hung.add(res);
      res.on('close', () => hung.delete(res));
      req.resume();
      return;
    }
    if (decision.errorStatus !== undefined) {
      req.resume();
      return sendJson(res, decision.errorStatus, faultError(decision.errorStatus).toBody());
    }
    const route = matchRoute(method, path);
    if (!route) throw unknownRoute(method, path);
    byRoute[route.name] = (byRoute[route.name] ?? 0) + 1;
    const reply = await route.handle(ctx, {
      params: route.params,
      query: url.searchParams,
      body: () => readJson(req),
    });
    if (reply.body === undefined) sendEmpty(res, reply.status);
    else sendJson(res, reply.status, reply.body);
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://standin');
    const path = url.pathname;
    const work = path.startsWith(CONTROL_PREFIX) ? control(req, res, path) : api(req, res, path, url);
    work
      .catch((error: unknown) => {
        if (stopping.signal.aborted) return void res.destroy();
        if (error instanceof BigQueryHttpError) return sendJson(res, error.code, error.toBody());
        log({ severity: 'ERROR', message: 'request failed', method: req.method, path, error: String(error) });
        sendJson(res, 500, new BigQueryHttpError(500, 'backendError', String(error)).toBody());
      })
      .finally(() => {
        const ms = Math.round(performance.now() - started);
        if (hung.has(res))
          log({ severity: 'DEBUG', message: 'request held (timeout fault)', method: req.method, path });
        else
          log({
            severity: 'DEBUG',
            message: 'request',
            method: req.method,
            path,
            status: res.statusCode,
            ms,
          });
      });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}`;
  const storage = await startStorageWriteServer(
    { warehouse, faults, rows, ingestion, projectIds: ctx.projectIds },
    options.host ?? '127.0.0.1',
    options.storagePort ?? 0,
    log,
  );
  const pruneTimer = setInterval(
    () => dedup.pruneAll(Date.now()),
    Math.min(Math.max(dedup.windowMs, 1000), 30_000),
  );
  pruneTimer.unref();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(pruneTimer);
      stopping.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
      await storage.stop();
      await warehouse.close();
      log({ severity: 'INFO', message: 'BigQuery stand-in stopped', url });
    })();
    return stopped;
  };

  return {
    url,
    port,
    projectId,
    storageHost: storage.host,
    setFaults: (config) => faults.set(config),
    clearFaults: () => faults.clear(),
    faults: () => faults.current(),
    stats,
    resetStats,
    scannedBytes: (sql, params) => scannedBytes(warehouse, sql, params, undefined),
    warehouse,
    stop,
  };
}
