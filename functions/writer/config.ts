import { ConfigError, parse, readConfig, type ConfigOf } from '../core/shared/config.ts';
import { parseSeverity } from '../core/shared/logger.ts';
import { DEFAULT_TOPOLOGY } from '../core/contract/topology.ts';
import { DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_WRITER_OPTIONS } from '../core/writer/options.ts';
import { checkIngestConfig, INGEST_OPTIONS } from '../core/shared/ingest-options.ts';

export const WRITER_OPTIONS = {
  projectId: { env: 'GOOGLE_CLOUD_PROJECT', description: 'Google Cloud project id', parse: parse.string },
  dataset: {
    env: 'BIGQUERY_DATASET',
    description: 'BigQuery dataset holding the tick tables',
    default: DEFAULT_TOPOLOGY.dataset,
    parse: parse.string,
  },
  checkpoints: {
    env: 'CHECKPOINTS_COLLECTION',
    description: 'Firestore collection of per-stream checkpoints',
    default: DEFAULT_TOPOLOGY.checkpoints,
    parse: parse.string,
  },
  bigqueryEndpoint: {
    env: 'BIGQUERY_API_ENDPOINT',
    description: 'BigQuery API base URL (local stand-in only; empty in the cloud)',
    default: '',
    parse: parse.string,
  },
  ...INGEST_OPTIONS,
  ensureTables: {
    env: 'WRITER_ENSURE_TABLES',
    description: 'Create dataset, tables and views at start (local stack; Terraform owns them in the cloud)',
    default: false,
    parse: parse.bool,
  },
  insertAttempts: {
    env: 'WRITER_INSERT_ATTEMPTS',
    description:
      'Insert requests (insertAll or AppendRows) per group of rows within one delivery before answering 503',
    default: DEFAULT_WRITER_OPTIONS.insertAttempts,
    parse: parse.int(1, 20),
  },
  insertTimeoutMs: {
    env: 'WRITER_INSERT_TIMEOUT_MS',
    description: 'Timeout of one insert request (insertAll or AppendRows)',
    default: DEFAULT_WRITER_OPTIONS.insertTimeoutMs,
    parse: parse.int(100, 120_000),
  },
  deliveryDeadlineMs: {
    env: 'WRITER_DELIVERY_DEADLINE_MS',
    description:
      'Time budget of one push delivery; keep it well below the push ack deadline (60 s local, 120 s cloud)',
    default: DEFAULT_WRITER_OPTIONS.deliveryDeadlineMs,
    parse: parse.int(1000, 600_000),
  },
  insertTransport: {
    env: 'WRITER_INSERT_TRANSPORT',
    description:
      "How insertAll requests are sent: 'direct' (Node HTTP agent, the client's endpoint and credentials) or 'client' (the client's request stack)",
    default: 'direct' as const,
    parse: parse.oneOf('direct', 'client'),
  },
  insertConcurrency: {
    env: 'WRITER_INSERT_CONCURRENCY',
    description: 'insertAll requests in flight per table; concurrent deliveries beyond it share requests',
    default: DEFAULT_WRITER_OPTIONS.maxInFlightPerTable,
    parse: parse.int(1, 64),
  },
  maxBodyBytes: {
    env: 'WRITER_MAX_BODY_BYTES',
    description:
      'Largest request body read (a push of a 10 MB message is about 14 MB); larger is refused with 413 before it is read',
    default: 16 * 1024 * 1024,
    parse: parse.int(1024, 1024 * 1024 * 1024),
  },
  statsIntervalMs: {
    env: 'WRITER_STATS_INTERVAL_MS',
    description: 'Interval of the INFO line with the writer counters (0: never)',
    default: 10_000,
    parse: parse.int(0, 3_600_000),
  },
  checkpointIntervalMs: {
    env: 'CHECKPOINT_MIN_INTERVAL_MS',
    description: 'Least time between two writes of one checkpoint document',
    default: DEFAULT_CHECKPOINT_INTERVAL_MS,
    parse: parse.int(0, 60_000),
  },
  checkpointLayout: {
    env: 'CHECKPOINT_LAYOUT',
    description:
      "'grouped': one checkpoint document per exchange, type and symbol bucket, written at most once per " +
      "interval (writes do not grow with streams); 'per-stream': one document per stream. Readers read both",
    default: 'grouped' as const,
    parse: parse.oneOf('grouped', 'per-stream'),
  },
  pushAuth: {
    env: 'PUSH_AUTH',
    description:
      "'oidc': every push must carry Pub/Sub's OIDC token; 'off': no check, for the local stack and tests only (production never sets it)",
    default: 'oidc' as const,
    parse: parse.oneOf('oidc', 'off'),
  },
  pushServiceAccount: {
    env: 'PUSH_AUTH_SERVICE_ACCOUNT',
    description: 'Service account email push tokens must carry (required unless PUSH_AUTH=off)',
    default: '',
    parse: parse.string,
  },
  pushAudience: {
    env: 'PUSH_AUTH_AUDIENCE',
    description:
      "Audience push tokens must carry: the writer's deterministic URL, as in the subscription's oidc_token (required unless PUSH_AUTH=off)",
    default: '',
    parse: parse.string,
  },
  pushCertsUrl: {
    env: 'PUSH_AUTH_CERTS_URL',
    description: "URL of the token signing certificates (tests); empty: Google's",
    default: '',
    parse: parse.string,
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'Least severity logged',
    default: 'INFO' as const,
    parse: parseSeverity,
  },
} as const;

export type WriterConfig = ConfigOf<typeof WRITER_OPTIONS>;

export function readWriterConfig(env: Readonly<Record<string, string | undefined>>): WriterConfig {
  const config = readConfig(WRITER_OPTIONS, env);
  if (config.deliveryDeadlineMs < 2 * config.insertTimeoutMs) {
    throw new ConfigError(
      'WRITER_DELIVERY_DEADLINE_MS',
      `must be at least twice WRITER_INSERT_TIMEOUT_MS (${config.insertTimeoutMs}) so that a retry fits`,
    );
  }
  if (config.pushAuth === 'oidc') requirePushAuth(config);
  checkIngestConfig(config);
  return config;
}

/** Push authentication fails closed: with it on, the identity and the audience must both be configured. */
function requirePushAuth(config: WriterConfig): void {
  const off = 'is required unless PUSH_AUTH=off (local runs only)';
  if (config.pushServiceAccount === '') throw new ConfigError('PUSH_AUTH_SERVICE_ACCOUNT', off);
  if (config.pushAudience === '') throw new ConfigError('PUSH_AUTH_AUDIENCE', off);
  if (!URL.canParse(config.pushAudience)) {
    throw new ConfigError('PUSH_AUTH_AUDIENCE', `must be the writer's URL, got ${config.pushAudience}`);
  }
}
