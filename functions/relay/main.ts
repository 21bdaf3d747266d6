/**
 * Composition root of the relay (Cloud Run): reads config, wires tardis-dev, Pub/Sub and the health
 * endpoint into the core RelayService, and drains in order on SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { PubSub } from '@google-cloud/pubsub';
import { PubSubTickPublisher } from '../adapters/pubsub.ts';
import { TardisLiveFeed } from '../adapters/tardis-live.ts';
import { ConfigError } from '../core/config.ts';
import { jsonLogger } from '../core/logger.ts';
import { systemClock } from '../core/ports.ts';
import { RelayService } from '../core/relay-service.ts';
import { readRelayConfig, type RelayConfig } from './config.ts';

const write = (line: string) => process.stdout.write(line + '\n');

function loadConfig(): RelayConfig {
  try {
    return readRelayConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    jsonLogger(write).log('CRITICAL', `invalid configuration: ${error.message}`, {
      variable: error.variable,
    });
    process.exit(78); // EX_CONFIG: nothing has started yet
  }
}

const config = loadConfig();
const relayId = config.relayId || `relay-${randomBytes(4).toString('hex')}`;
const logger = jsonLogger(write, { level: config.logLevel, fields: { component: 'relay', relayId } });

const pubsub = new PubSub({ projectId: config.projectId });
const publisher = new PubSubTickPublisher(pubsub, config.topic);
const relay = new RelayService(
  new TardisLiveFeed(config.streams, logger, config.staleTimeoutMs),
  publisher,
  systemClock,
  logger,
  {
    relayId,
    streams: config.streams,
    limits: {
      maxTicks: config.maxTicks,
      maxBytes: 512 * 1024,
      maxWaitMs: config.maxWaitMs,
      heartbeatMs: config.heartbeatMs,
    },
    maxInFlightBytes: config.maxInFlightBytes,
    tickIntervalMs: Math.max(5, Math.min(25, Math.floor(config.maxWaitMs / 4))),
  },
);

const health = createServer((req, res) => {
  const streams = relay.status();
  const body = JSON.stringify({ relayId, streams, counters: relay.counters });
  const ok = req.url === '/readyz' ? streams.some((s) => s.covering) : true;
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(body);
});
health.listen(config.port, () => {
  const address = health.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.log('INFO', 'relay started', { streams: config.streams.length, topic: config.topic, port });
});

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) {
    logger.log('WARNING', 'second signal: exiting without waiting', { signal });
    process.exit(1);
  }
  shuttingDown = true;
  logger.log('NOTICE', 'shutting down: closing coverage and flushing', { signal });
  const deadline = setTimeout(() => {
    logger.log('ERROR', 'shutdown deadline passed: exiting with work in flight', {
      inFlightBytes: relay.counters.inFlightBytes,
    });
    process.exit(1);
  }, config.shutdownDeadlineMs);
  await relay.stop();
  await pubsub.close();
  health.close();
  clearTimeout(deadline);
  logger.log('NOTICE', 'relay stopped', { counters: relay.counters });
  // Everything is flushed; tardis-dev may still hold reconnect timers, so don't wait for the loop to empty.
  process.exit(process.exitCode ?? 0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

relay.start().catch((error: unknown) => {
  logger.log('CRITICAL', 'relay feed stopped unexpectedly', { error });
  process.exitCode = 1;
  void shutdown('feed-failure');
});
