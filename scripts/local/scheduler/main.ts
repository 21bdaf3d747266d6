// CLI: npx tsx scripts/local/scheduler/main.ts [--port 0] [--host 127.0.0.1] [--period-ms N] [--log]
// Prints one JSON line {"severity":"INFO","message":"Cloud Scheduler stand-in ready","endpoint":"127.0.0.1:P",...}
// when ready (SCHEDULER_API_ENDPOINT takes `endpoint`); --period-ms runs every job every N ms instead of
// on its cron schedule; --log adds a line per job change and attempt. Stops on SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { jsonLogger, silentLogger } from '../../../functions/core/shared/logger.ts';
import { startSchedulerStandin } from './server.ts';
import { errorMessage } from '../../../functions/core/shared/errors.ts';

const write = (line: string) => process.stdout.write(`${line}\n`);

function fail(message: string): never {
  process.stderr.write(`${JSON.stringify({ severity: 'ERROR', message })}\n`);
  process.exit(2); // nothing has started yet
}

let values: { port: string; host: string; 'period-ms'?: string; log: boolean; help: boolean };
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'period-ms': { type: 'string' },
      log: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  fail(errorMessage(error));
}
if (values.help) {
  write(
    'usage: npx tsx scripts/local/scheduler/main.ts [--port 0] [--host 127.0.0.1] [--period-ms N] [--log]',
  );
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be an integer in [0, 65535]');
const periodMs = values['period-ms'] === undefined ? undefined : Number(values['period-ms']);
if (periodMs !== undefined && (!Number.isInteger(periodMs) || periodMs <= 0)) {
  fail('--period-ms must be a positive integer');
}

const logger = values.log ? jsonLogger(write, { fields: { component: 'scheduler-standin' } }) : silentLogger;
let standin;
try {
  standin = await startSchedulerStandin({
    port,
    host: values.host,
    logger,
    ...(periodMs === undefined ? {} : { periodMs }),
  });
} catch (error) {
  fail(`the scheduler stand-in did not start: ${errorMessage(error)}`);
}
const { host, port: bound } = standin.endpoint;
// The ready line is itself a log entry and the first line on stdout: readers take `endpoint` from it.
write(
  JSON.stringify({
    severity: 'INFO',
    message: 'Cloud Scheduler stand-in ready',
    endpoint: `${host}:${bound}`,
    host,
    port: bound,
    periodMs: periodMs ?? null,
  }),
);

const shutdown = (signal: string): void => {
  process.off('SIGINT', shutdown);
  process.off('SIGTERM', shutdown);
  logger.log('INFO', 'stopping', { signal });
  // stop() clears every timer and closes the server; with nothing left open the process exits by itself.
  const running = standin;
  void running.stop().catch((error: unknown) => {
    logger.log('ERROR', 'stop failed', { error });
    process.exitCode = 1;
  });
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
