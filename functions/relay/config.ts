import { DEFAULT_BATCH_LIMITS } from '../core/batcher.ts';
import { parse, readConfig, type ConfigOf } from '../core/config.ts';
import { parseSeverity } from '../core/logger.ts';
import { parseStreamsConfig } from '../core/streams-config.ts';
import { DEFAULT_TOPOLOGY } from '../core/topology.ts';

export const RELAY_OPTIONS = {
  projectId: { env: 'GOOGLE_CLOUD_PROJECT', description: 'Google Cloud project id', parse: parse.string },
  streams: {
    env: 'RELAY_STREAMS',
    description: 'streams to record, e.g. binance:btcusdt,ethusdt:trade,book_ticker',
    parse: parseStreamsConfig,
  },
  topic: {
    env: 'TICKS_TOPIC',
    description: 'Pub/Sub topic for tick batches',
    default: DEFAULT_TOPOLOGY.topic,
    parse: parse.string,
  },
  relayId: {
    env: 'RELAY_ID',
    description: 'this instance id (default: random per process start)',
    default: '',
    parse: parse.string,
  },
  port: { env: 'PORT', description: 'health endpoint port', default: 8080, parse: parse.int(0, 65535) },
  maxTicks: {
    env: 'BATCH_MAX_TICKS',
    description: 'most ticks per batch',
    default: DEFAULT_BATCH_LIMITS.maxTicks,
    parse: parse.int(1, 10_000),
  },
  maxWaitMs: {
    env: 'BATCH_MAX_WAIT_MS',
    description: 'longest a tick waits before its batch is published',
    default: DEFAULT_BATCH_LIMITS.maxWaitMs,
    parse: parse.int(1, 5_000),
  },
  heartbeatMs: {
    env: 'BATCH_HEARTBEAT_MS',
    description: 'empty batch interval for quiet streams',
    default: DEFAULT_BATCH_LIMITS.heartbeatMs,
    parse: parse.int(100, 60_000),
  },
  maxInFlightBytes: {
    env: 'RELAY_MAX_INFLIGHT_BYTES',
    description: 'bound on unacknowledged publish bytes; past it batches become uncovered windows',
    default: 64 * 1024 * 1024,
    parse: parse.int(1024 * 1024, 1024 * 1024 * 1024),
  },
  staleTimeoutMs: {
    env: 'RELAY_STALE_TIMEOUT_MS',
    description: 'a socket silent this long is treated as lost',
    default: 10_000,
    parse: parse.int(1000, 600_000),
  },
  shutdownDeadlineMs: {
    env: 'RELAY_SHUTDOWN_DEADLINE_MS',
    description: 'longest graceful shutdown before exiting anyway (Cloud Run kills at 10 s)',
    default: 8_000,
    parse: parse.int(100, 60_000),
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'least severity logged',
    default: 'INFO' as const,
    parse: parseSeverity,
  },
} as const;

export type RelayConfig = ConfigOf<typeof RELAY_OPTIONS>;

export function readRelayConfig(env: Readonly<Record<string, string | undefined>>): RelayConfig {
  return readConfig(RELAY_OPTIONS, env);
}
