/**
 * Runs the exchange simulator and the Tardis-compatible history server until SIGINT/SIGTERM.
 *
 *   npx tsx scripts/local/exchange/main.ts --seed 1 --rate 50 --port 0 [--history-port 0]
 *     [--symbols btcusdt,ethusdt] [--api-key KEY] [--availability-delay-ms 0] [--no-history]
 *
 * Prints one JSON line when ready: {"severity":"INFO","message":"exchange stand-ins ready",wsUrl,wsUrls,...}
 * (wsUrls.<exchange> for WSS_URL_<EXCHANGE>, restUrls.<exchange> for REST_URL_<EXCHANGE>).
 */
import { parseArgs } from 'node:util';
import { startHistoryServer, type HistoryServer } from './history-server.ts';
import { startSimulator } from './simulator.ts';
import { errorMessage } from '../../../functions/core/shared/errors.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    rate: { type: 'string', default: '50' },
    port: { type: 'string', default: '0' },
    'history-port': { type: 'string', default: '0' },
    symbols: { type: 'string' },
    'api-key': { type: 'string' },
    'availability-delay-ms': { type: 'string', default: '0' },
    'no-history': { type: 'boolean', default: false },
  },
});

function integer(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, got "${text}"`);
  return value;
}

const log = (severity: string, message: string, fields: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ severity, message, ...fields })}\n`);
};

async function main(): Promise<void> {
  const seed = integer('seed', values.seed);
  const ratePerSymbol = integer('rate', values.rate);
  const symbols = values.symbols?.split(',').filter((s) => s.length > 0);
  const simulator = await startSimulator({
    seed,
    ratePerSymbol,
    symbols,
    port: integer('port', values.port),
  });
  let history: HistoryServer | undefined;
  try {
    if (!values['no-history']) {
      history = await startHistoryServer({
        seed,
        ratePerSymbol,
        symbols,
        apiKey: values['api-key'],
        availabilityDelayMs: integer('availability-delay-ms', values['availability-delay-ms']),
        port: integer('history-port', values['history-port']),
      });
    }
  } catch (error) {
    await simulator.stop();
    throw error;
  }
  log('INFO', 'exchange stand-ins ready', {
    exchange: simulator.exchange,
    seed,
    ratePerSymbol,
    wsUrl: simulator.wsUrl,
    wsUrls: simulator.wsUrls,
    restUrls: simulator.restUrls,
    simulatorControlUrl: simulator.controlUrl,
    historyEndpoint: history?.endpoint ?? null,
    historyControlUrl: history?.controlUrl ?? null,
    certPath: history?.certPath ?? null,
  });
  const shutdown = (signal: string): void => {
    log('INFO', 'stopping exchange stand-ins', { signal });
    void Promise.all([simulator.stop(), history?.stop()]).then(() =>
      log('INFO', 'exchange stand-ins stopped'),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  log('ERROR', errorMessage(error));
  process.exitCode = 1;
});
