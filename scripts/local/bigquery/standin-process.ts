// The BigQuery stand-in in a process of its own: benches whose own process already runs the simulator (or a
// load generator) start it this way, so its event loop and DuckDB get a core of their own.
import { freePort } from '../free-port.ts';
import { httpOk, logPath, ServiceProcess } from '../service.ts';
import type { BigQueryStandin } from './server.ts';

/** What a caller of a stand-in in another process can use: its addresses; faults and stats are over HTTP. */
export type StandinEndpoint = Pick<BigQueryStandin, 'url' | 'port' | 'projectId' | 'storageHost' | 'stop'>;

export interface StandinProcessOptions {
  readonly projectId: string;
  /** Where its log goes (`bigquery-standin.log`). */
  readonly workDir: string;
  /** A DuckDB file that keeps everything; in memory when absent. */
  readonly dbPath?: string;
  /** Extra node options before the script (for example `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
}

export async function startStandinProcess(options: StandinProcessOptions): Promise<StandinEndpoint> {
  const port = await freePort();
  const storagePort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const service = new ServiceProcess({
    name: 'bigquery-standin',
    args: [
      ...(options.nodeArgs ?? []),
      'scripts/local/bigquery/main.ts',
      ...['--port', String(port), '--storage-port', String(storagePort), '--project', options.projectId],
      ...(options.dbPath ? ['--db', options.dbPath] : []),
    ],
    env: {},
    logPath: logPath(options.workDir, 'bigquery-standin'),
    ready: () => httpOk(`${url}/_standin/health`, (s) => s === 200),
  });
  await service.start();
  return {
    url,
    port,
    projectId: options.projectId,
    storageHost: `127.0.0.1:${storagePort}`,
    // SIGTERM closes its server and DuckDB (a file-backed warehouse is then complete on disk).
    stop: async () => {
      await service.terminate(10_000);
    },
  };
}
