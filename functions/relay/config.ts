import { DEFAULT_BATCH_LIMITS } from '../core/relay/batcher.ts';
import { DEFAULT_BUNDLE_LIMITS } from '../core/relay/bundler.ts';
import { parse, readConfig, type ConfigOf } from '../core/shared/config.ts';
import { parseSeverity } from '../core/shared/logger.ts';
import { parseStreamsConfig } from '../core/model/streams-config.ts';
import { DEFAULT_TOPOLOGY } from '../core/contract/topology.ts';
import { DEFAULT_FLEET_OPTIONS } from '../core/fleet/options.ts';

export const RELAY_OPTIONS = {
  projectId: { env: 'GOOGLE_CLOUD_PROJECT', description: 'Google Cloud project id', parse: parse.string },
  streams: {
    env: 'RELAY_STREAMS',
    description: 'streams to record, e.g. binance:btcusdt,ethusdt:trade,book_ticker;coinbase:btc-usd:trade',
    parse: parseStreamsConfig,
  },
  topic: {
    env: 'TICKS_TOPIC',
    description: 'Pub/Sub topic for tick batches',
    default: DEFAULT_TOPOLOGY.topic,
    parse: parse.string,
  },
  checkpoints: {
    env: 'CHECKPOINTS_COLLECTION',
    description: 'Firestore collection of per-stream checkpoints (read at start for startup gaps)',
    default: DEFAULT_TOPOLOGY.checkpoints,
    parse: parse.string,
  },
  gaps: {
    env: 'GAPS_COLLECTION',
    description: 'Firestore collection of the gap ledger (startup gaps are recorded there)',
    default: DEFAULT_TOPOLOGY.gaps,
    parse: parse.string,
  },
  heartbeats: {
    env: 'HEARTBEATS_COLLECTION',
    description: 'Firestore collection of relay liveness records',
    default: DEFAULT_TOPOLOGY.heartbeats,
    parse: parse.string,
  },
  relayId: {
    env: 'RELAY_ID',
    description: 'this instance id (default: random per process start)',
    default: '',
    parse: parse.string,
  },
  fleet: {
    env: 'RELAY_FLEET',
    description:
      'on: join a fleet of relays sharing the streams by shard (off: one relay holds every stream)',
    default: false,
    parse: parse.bool,
  },
  fleetPool: {
    env: 'RELAY_FLEET_POOL',
    description:
      "this member's pool (deployment unit): a shard's replicas go to distinct pools when possible",
    default: '',
    parse: parse.string,
  },
  fleetReplicas: {
    env: 'RELAY_FLEET_REPLICAS',
    description: 'replicas per shard (one primary publishes, the others stand by)',
    default: DEFAULT_FLEET_OPTIONS.replicas,
    parse: parse.int(1, 5),
  },
  fleetLeaseMs: {
    env: 'RELAY_FLEET_LEASE_MS',
    description: 'a shard record or member heartbeat unchanged this long (timed locally) counts as dead',
    default: DEFAULT_FLEET_OPTIONS.leaseMs,
    parse: parse.int(500, 120_000),
  },
  fleetRenewMs: {
    env: 'RELAY_FLEET_RENEW_MS',
    description: 'how often a member renews its heartbeat and reads the fleet (well under the lease)',
    default: DEFAULT_FLEET_OPTIONS.renewMs,
    parse: parse.int(100, 60_000),
  },
  fleetMinShards: {
    env: 'RELAY_FLEET_MIN_SHARDS',
    description: 'least shards per exchange (every member must use the same value)',
    default: DEFAULT_FLEET_OPTIONS.minShardsPerExchange,
    parse: parse.int(1, 1024),
  },
  fleetBufferBytes: {
    env: 'RELAY_FLEET_BUFFER_BYTES',
    description: "bound on a standby shard's replay buffer (oldest batches dropped first past it)",
    default: 16 * 1024 * 1024,
    parse: parse.int(64 * 1024, 1024 * 1024 * 1024),
  },
  leases: {
    env: 'LEASES_COLLECTION',
    description: 'Firestore collection of leases (fleet mode: the fleet-wide reporter role)',
    default: DEFAULT_TOPOLOGY.leases,
    parse: parse.string,
  },
  members: {
    env: 'MEMBERS_COLLECTION',
    description: 'Firestore collection of fleet members (heartbeat with each shard role and publishedTo)',
    default: 'relay_members',
    parse: parse.string,
  },
  shards: {
    env: 'SHARDS_COLLECTION',
    description: 'Firestore collection of shard ownership records (written only by take-over transactions)',
    default: 'relay_shards',
    parse: parse.string,
  },
  port: { env: 'PORT', description: 'health endpoint port', default: 8080, parse: parse.int(0, 65535) },
  maxTicks: {
    env: 'BATCH_MAX_TICKS',
    description: 'most ticks per batch',
    default: DEFAULT_BATCH_LIMITS.maxTicks,
    parse: parse.int(1, 10_000),
  },
  maxBytes: {
    env: 'BATCH_MAX_BYTES',
    description: 'approximate most encoded bytes per batch',
    default: DEFAULT_BATCH_LIMITS.maxBytes,
    parse: parse.int(1024, 8 * 1024 * 1024),
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
  messageFormat: {
    env: 'RELAY_MESSAGE_FORMAT',
    description:
      "'v4': many streams' batches per Pub/Sub message (pushes do not grow with streams; writers must read v4); " +
      "'v3': one batch per message, for writers older than v4",
    default: 'v4' as const,
    parse: parse.oneOf('v4', 'v3'),
  },
  messageEncoding: {
    env: 'RELAY_MESSAGE_ENCODING',
    description:
      "'gzip': v4 bundles are gzipped (attribute encoding=gzip; writers read both, refusing one that inflates " +
      "past 16 MiB); 'identity': sent as they are, for writers older than this option",
    default: 'gzip' as const,
    parse: parse.oneOf('gzip', 'identity'),
  },
  tradeIdCheck: {
    env: 'RELAY_TRADE_ID_CHECK',
    description:
      "'on': a jump in a contiguous-id trade stream ends coverage there and is recorded as a trade_ids gap " +
      "in the ledger (the gap-filler's checkpoint detection reads no trades, decisions/0029); 'off': not checked",
    default: 'on' as const,
    parse: parse.oneOf('on', 'off'),
  },
  bundleMaxBytes: {
    env: 'RELAY_BUNDLE_MAX_BYTES',
    description:
      'v4: a message is sent once its batches reach this many bytes (else after RELAY_BUNDLE_MAX_WAIT_MS)',
    default: DEFAULT_BUNDLE_LIMITS.maxBytes,
    parse: parse.int(64 * 1024, 8 * 1024 * 1024),
  },
  bundleMaxWaitMs: {
    env: 'RELAY_BUNDLE_MAX_WAIT_MS',
    description:
      'v4: a message is sent at the latest this long after its first batch (a tick then waits at most ' +
      'BATCH_MAX_WAIT_MS + this in the relay); longer is fewer, fuller messages; 0 sends on every poll',
    default: DEFAULT_BUNDLE_LIMITS.maxWaitMs,
    parse: parse.int(0, 1_000),
  },
  maxInFlightBytes: {
    env: 'RELAY_MAX_INFLIGHT_BYTES',
    description: 'bound on unacknowledged publish bytes; past it batches become uncovered windows',
    default: 32 * 1024 * 1024,
    parse: parse.int(1024 * 1024, 1024 * 1024 * 1024),
  },
  publishTimeoutMs: {
    env: 'RELAY_PUBLISH_TIMEOUT_MS',
    description: 'longest one publish may take, retries included; then its window becomes a hole',
    default: 10_000,
    parse: parse.int(1000, 600_000),
  },
  staleTimeoutMs: {
    env: 'RELAY_STALE_TIMEOUT_MS',
    description: 'an exchange socket silent this long is replaced (tardis-dev checks every interval)',
    default: 10_000,
    parse: parse.int(1000, 600_000),
  },
  healthStaleMs: {
    env: 'RELAY_HEALTH_STALE_MS',
    description: '/healthz fails when a stream is recorded only up to longer ago than this',
    default: 60_000,
    parse: parse.int(1000, 3_600_000),
  },
  heartbeatIntervalMs: {
    env: 'RELAY_HEARTBEAT_INTERVAL_MS',
    description: 'how often the liveness record in Firestore is written',
    default: 5_000,
    parse: parse.int(1000, 300_000),
  },
  metricsIntervalMs: {
    env: 'RELAY_METRICS_INTERVAL_MS',
    description: 'how often the metrics log line is written',
    default: 10_000,
    parse: parse.int(1000, 600_000),
  },
  startupGapGraceMs: {
    env: 'RELAY_STARTUP_GAP_GRACE_MS',
    description: 'wait after a stream first covers before checking its checkpoint for a startup gap',
    default: 10_000,
    parse: parse.int(0, 600_000),
  },
  shutdownDeadlineMs: {
    env: 'RELAY_SHUTDOWN_DEADLINE_MS',
    description: 'longest graceful shutdown before exiting anyway (Cloud Run kills at 10 s)',
    default: 8_000,
    parse: parse.int(100, 60_000),
  },
  binanceRestUrl: {
    env: 'REST_URL_BINANCE',
    description:
      "Binance REST base for order book snapshots (default: tardis-dev's https://api.binance.com/api/v1; " +
      'local runs point it at the exchange simulator, production leaves it unset)',
    default: '',
    parse: parseHttpUrl,
  },
  binanceFuturesRestUrl: {
    env: 'REST_URL_BINANCE_FUTURES',
    description:
      "Binance USD-M REST base for order book snapshots and open interest (default: tardis-dev's " +
      'https://fapi.binance.com/fapi/v1; local runs point it at the exchange simulator)',
    default: '',
    parse: parseHttpUrl,
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'least severity logged',
    default: 'INFO' as const,
    parse: parseSeverity,
  },
} as const;

/** An absolute http(s) URL without a trailing slash (tardis-dev appends `/depth?...`). */
function parseHttpUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('expected an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('expected an http(s) URL');
  if (url.search !== '' || url.hash !== '') throw new Error('expected a base URL without query or fragment');
  return raw.replace(/\/+$/, '');
}

export type RelayConfig = ConfigOf<typeof RELAY_OPTIONS>;

export function readRelayConfig(env: Readonly<Record<string, string | undefined>>): RelayConfig {
  return readConfig(RELAY_OPTIONS, env);
}

/** How often the relay polls its batchers for time cuts and sends due bundles: a quarter of the batch wait, 5-25 ms. */
export function pollIntervalMs(batchMaxWaitMs: number): number {
  return Math.max(5, Math.min(25, Math.floor(batchMaxWaitMs / 4)));
}
