/**
 * Composition root of the relay (Cloud Run): reads config, wires tardis-dev, Pub/Sub, Firestore and the
 * health endpoint into the core, and drains in order on SIGTERM: stop intake -> close coverage windows
 * -> publish what is buffered -> flush the client -> close clients -> exit.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { FirestoreCheckpointStore } from '../adapters/firestore/checkpoint-store.ts';
import { FirestoreGapLedger } from '../adapters/firestore/gap-ledger.ts';
import { FirestoreHeartbeatStore } from '../adapters/firestore/heartbeat-store.ts';
import {
  DEFAULT_PUBLISHER_OPTIONS,
  PubSubTickPublisher,
  RELAY_GRPC_OPTIONS,
} from '../adapters/pubsub/tick-publisher.ts';
import { TardisLiveFeed } from '../adapters/tardis/live-feed.ts';
import { useBinanceFeedRestUrl, useBinanceRestUrl } from '../adapters/tardis/binance-rest-url.ts';
import { useOkexSwapRefusals } from '../adapters/tardis/okex-swap-refusals.ts';
import { EXIT_CONFIG, loadConfigOrExit, writeLine } from '../adapters/process/entry-point.ts';
import { FeedRejectedError } from '../core/relay/feed-rejected-error.ts';
import { jsonLogger } from '../core/shared/logger.ts';
import { logSignal } from '../core/shared/signals.ts';
import { systemClock } from '../core/ports.ts';
import { StatusReporter } from '../core/relay/status-reporter.ts';
import { RelayService } from '../core/relay/relay-service.ts';
import { DEFAULT_BUNDLE_LIMITS } from '../core/relay/bundler.ts';
import { StartupRecovery } from '../core/relay/startup-recovery.ts';
import { TradeIdJumpRecorder } from '../core/relay/trade-id-check.ts';
import { streamId, type StreamKey } from '../core/model/streams.ts';
import type { TradeIdJump } from '../core/ports.ts';
import { DEFAULT_FLEET_OPTIONS } from '../core/fleet/options.ts';
import { FleetRelay } from '../core/relay/fleet-relay.ts';
import { FirestoreFleetStore } from '../adapters/firestore/fleet-store.ts';
import { FirestoreLeaseStore } from '../adapters/firestore/lease-store.ts';
import { pollIntervalMs, readRelayConfig } from './config.ts';
import { createHealthServer } from './health-server.ts';

const config = loadConfigOrExit(readRelayConfig);
const relayId = config.relayId || `relay-${randomBytes(4).toString('hex')}`;
const logger = jsonLogger(writeLine, { level: config.logLevel, fields: { component: 'relay', relayId } });
const clock = systemClock;

if (config.binanceRestUrl !== '') useBinanceRestUrl(config.binanceRestUrl);
if (config.binanceFuturesRestUrl !== '')
  useBinanceFeedRestUrl('binance-futures', config.binanceFuturesRestUrl);
useOkexSwapRefusals();

const pubsub = new PubSub({ projectId: config.projectId, ...RELAY_GRPC_OPTIONS });
const publisher = new PubSubTickPublisher(pubsub, config.topic, {
  ...DEFAULT_PUBLISHER_OPTIONS,
  timeoutMs: config.publishTimeoutMs,
});
const firestore = new Firestore({ projectId: config.projectId });
const ledger = new FirestoreGapLedger(firestore, config.gaps);
const recovery = new StartupRecovery(
  new FirestoreCheckpointStore(firestore, config.checkpoints, clock),
  ledger,
  clock,
  logger,
  { graceMs: config.startupGapGraceMs },
);
const jumps = new TradeIdJumpRecorder(ledger, logger, () => clock.now());
const relayOptions = {
  relayId,
  limits: {
    maxTicks: config.maxTicks,
    maxBytes: config.maxBytes,
    maxWaitMs: config.maxWaitMs,
    heartbeatMs: config.heartbeatMs,
  },
  maxInFlightBytes: config.maxInFlightBytes,
  messageFormat: config.messageFormat,
  messageEncoding: config.messageEncoding,
  bundleLimits: {
    ...DEFAULT_BUNDLE_LIMITS,
    maxBytes: config.bundleMaxBytes,
    maxWaitMs: config.bundleMaxWaitMs,
  },
  tickIntervalMs: pollIntervalMs(config.maxWaitMs),
  onFirstCoverage: (stream: StreamKey, from: number) => recovery.onFirstCoverage(stream, from),
  ...(config.tradeIdCheck === 'on'
    ? { onTradeIdJump: (stream: StreamKey, jump: TradeIdJump) => jumps.record(stream, jump) }
    : {}),
};
const relay = config.fleet
  ? new FleetRelay(
      (streams) => new TardisLiveFeed(streams, logger, config.staleTimeoutMs),
      publisher,
      new FirestoreFleetStore(firestore, config.members, config.shards),
      new FirestoreLeaseStore(firestore, config.leases, clock),
      clock,
      logger,
      {
        self: relayId,
        pool: config.fleetPool,
        streams: config.streams,
        fleet: {
          ...DEFAULT_FLEET_OPTIONS,
          replicas: config.fleetReplicas,
          leaseMs: config.fleetLeaseMs,
          renewMs: config.fleetRenewMs,
          minShardsPerExchange: config.fleetMinShards,
        },
        bufferBytes: config.fleetBufferBytes,
        relay: relayOptions,
      },
    )
  : new RelayService(
      new TardisLiveFeed(config.streams, logger, config.staleTimeoutMs),
      publisher,
      clock,
      logger,
      {
        ...relayOptions,
        streams: config.streams,
      },
    );
const statusReporter = new StatusReporter(
  relay,
  new FirestoreHeartbeatStore(firestore, config.heartbeats),
  clock,
  logger,
  {
    relayId,
    revision: process.env.K_REVISION ?? null,
    host: hostname(),
    staleAfterMs: config.healthStaleMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatTtlMs: 24 * 3_600_000,
    metricsIntervalMs: config.metricsIntervalMs,
    memory: () => ({ rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed }),
  },
);

const health = createHealthServer(statusReporter);
health.listen(config.port, () => {
  const address = health.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.log('INFO', 'relay started', {
    streams: config.streams.map(streamId),
    topic: config.topic,
    fleet: config.fleet
      ? { pool: config.fleetPool, shards: relay instanceof FleetRelay ? relay.shards.length : 0 }
      : null,
    port,
    pid: process.pid,
  });
});

let shuttingDown = false;
async function shutdown(reason: string, exitCode: number): Promise<void> {
  if (shuttingDown) {
    logger.log('WARNING', 'second signal: exiting without waiting', { reason });
    process.exit(exitCode || 1);
  }
  shuttingDown = true;
  const startedAt = clock.now();
  logger.log('NOTICE', 'shutting down: intake stopped, closing coverage and flushing', { reason });
  const deadline = setTimeout(() => {
    logSignal(logger, 'relay_shutdown_abandoned', {
      inFlightBatches: relay.counters.inFlightBatches,
      inFlightBytes: relay.counters.inFlightBytes,
      counters: relay.counters,
    });
    process.exit(exitCode || 1);
  }, config.shutdownDeadlineMs);
  recovery.stop();
  // A fleet member first hands its shards over, leaving time to drain what it still publishes.
  await (relay instanceof FleetRelay ? relay.stop(handoverBudgetMs(reason)) : relay.stop());
  logger.log('NOTICE', 'relay stopped', {
    reason,
    drainMs: clock.now() - startedAt,
    counters: relay.counters,
    coverage: Object.fromEntries(
      relay.status().map((s) => [s.stream, { ticksIn: s.ticksIn, coveredTo: s.coveredTo }]),
    ),
  });
  // Every batch is settled: the rest (a last heartbeat, closing clients) is courtesy, given a second at most.
  const courtesy = Promise.allSettled([statusReporter.stop(), pubsub.close(), jumps.settle()]).then(() =>
    firestore.terminate(),
  );
  await Promise.race([courtesy.catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  health.close();
  clearTimeout(deadline);
  // Everything is flushed; tardis-dev may still hold reconnect timers, so don't wait for the loop to empty.
  process.exit(exitCode);
}
/** Planned stops hand over within the deadline, keeping ~3 s to drain; a failure exits at once. */
function handoverBudgetMs(reason: string): number {
  return reason === 'SIGTERM' || reason === 'SIGINT' ? Math.max(0, config.shutdownDeadlineMs - 3_000) : 0;
}
process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
process.on('SIGINT', () => void shutdown('SIGINT', 0));

async function main(): Promise<void> {
  // Read the checkpoints before connecting, but never let a slow Firestore delay recording.
  await Promise.race([recovery.load(config.streams), new Promise((r) => setTimeout(r, 5_000).unref())]);
  statusReporter.start();
  await relay.start();
}

main().catch((error: unknown) => {
  if (error instanceof FeedRejectedError) {
    const refused = config.streams.filter(
      (s) => s.exchange === error.exchange && error.symbols.includes(s.symbol),
    );
    logSignal(
      logger,
      'relay_stream_refused',
      { exchange: error.exchange, symbols: error.symbols, streams: refused.map(streamId) },
      `${refused.map(streamId).join(', ')}: ${error.reason}`,
    );
    void shutdown('stream refused by the exchange', EXIT_CONFIG);
    return;
  }
  logSignal(logger, 'relay_feed_failed', { error });
  void shutdown('feed failure', 1);
});
