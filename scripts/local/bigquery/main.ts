// CLI: npx tsx scripts/local/bigquery/main.ts [--port 0] [--storage-port 0] [--host 127.0.0.1] [--db path] [--project id]
//      [--dedup-window-ms 60000] [--log]
// Prints one JSON line {"severity":"INFO","message":"BigQuery stand-in ready","url":...} when ready;
// --log adds a DEBUG line per request after it. Stops on SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { jsonLineLogger } from './logger.ts';
import { startBigQueryStandin } from './server.ts';

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(
      `${JSON.stringify({ severity: 'ERROR', message: `--${name} must be a non-negative integer` })}\n`,
    );
    process.exit(2); // nothing has started yet
  }
  return n;
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'storage-port': { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    db: { type: 'string' },
    project: { type: 'string' },
    'dedup-window-ms': { type: 'string' },
    log: { type: 'boolean', default: false },
  },
});

const standin = await startBigQueryStandin({
  port: intOption('port', values.port),
  storagePort: intOption('storage-port', values['storage-port']),
  host: values.host,
  dbPath: values.db,
  projectId: values.project,
  dedupWindowMs: intOption('dedup-window-ms', values['dedup-window-ms']),
  logger: values.log ? jsonLineLogger : undefined,
});
// The ready line is itself a log entry and the first line on stdout: readers take `url` from it.
jsonLineLogger({
  severity: 'INFO',
  message: 'BigQuery stand-in ready',
  url: standin.url,
  port: standin.port,
  storageHost: standin.storageHost,
  projectId: standin.projectId,
  dbPath: values.db ?? null,
});

const shutdown = (signal: string): void => {
  process.off('SIGINT', shutdown);
  process.off('SIGTERM', shutdown);
  if (values.log) jsonLineLogger({ severity: 'INFO', message: 'stopping', signal });
  // stop() closes the server and DuckDB; with nothing left open the process then exits by itself.
  standin.stop().catch((error: unknown) => {
    jsonLineLogger({ severity: 'ERROR', message: 'stop failed', error: String(error) });
    process.exitCode = 1;
  });
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
