import { parse, readConfig, type ConfigOf } from '../core/shared/config.ts';
import { DEFAULT_GAPFILL_OPTIONS } from '../core/gapfill/options.ts';
import { parseSeverity } from '../core/shared/logger.ts';
import { parseStreamsConfig } from '../core/model/streams-config.ts';
import { DEFAULT_TOPOLOGY } from '../core/contract/topology.ts';
import { checkIngestConfig, INGEST_OPTIONS } from '../core/shared/ingest-options.ts';

const ms = (min: number, max: number) => parse.int(min, max);

export const GAPFILL_OPTIONS = {
  projectId: { env: 'GOOGLE_CLOUD_PROJECT', description: 'Google Cloud project id', parse: parse.string },
  streams: {
    env: 'RELAY_STREAMS',
    description: 'the streams that should be recorded (same format as the relay)',
    parse: parseStreamsConfig,
  },
  dataset: {
    env: 'BIGQUERY_DATASET',
    description: 'BigQuery dataset',
    default: DEFAULT_TOPOLOGY.dataset,
    parse: parse.string,
  },
  checkpoints: {
    env: 'CHECKPOINTS_COLLECTION',
    description: 'Firestore checkpoints collection',
    default: DEFAULT_TOPOLOGY.checkpoints,
    parse: parse.string,
  },
  gaps: {
    env: 'GAPS_COLLECTION',
    description: 'Firestore gap ledger collection',
    default: DEFAULT_TOPOLOGY.gaps,
    parse: parse.string,
  },
  leases: {
    env: 'LEASES_COLLECTION',
    description: 'Firestore leases collection',
    default: DEFAULT_TOPOLOGY.leases,
    parse: parse.string,
  },
  tardisEndpoint: {
    env: 'TARDIS_API_ENDPOINT',
    description: 'Tardis.dev API base URL',
    default: 'https://api.tardis.dev/v1',
    parse: parse.string,
  },
  tardisApiKey: {
    env: 'TARDIS_API_KEY',
    description: 'Tardis.dev API key (from Secret Manager in the cloud)',
    default: '',
    parse: parse.string,
  },
  bigqueryEndpoint: {
    env: 'BIGQUERY_API_ENDPOINT',
    description: 'BigQuery API base URL (local stand-in only)',
    default: '',
    parse: parse.string,
  },
  ...INGEST_OPTIONS,
  lookbackMs: {
    env: 'GAPFILL_LOOKBACK_MS',
    description: 'how far back holes are looked for',
    default: DEFAULT_GAPFILL_OPTIONS.lookbackMs,
    parse: ms(60_000, 30 * 86_400_000),
  },
  settleMs: {
    env: 'GAPFILL_SETTLE_MS',
    description: 'only time older than this is judged (batches in flight)',
    default: DEFAULT_GAPFILL_OPTIONS.settleMs,
    parse: ms(0, 3_600_000),
  },
  availabilityDelayMs: {
    env: 'GAPFILL_AVAILABILITY_DELAY_MS',
    description: 'wait this long after a gap ends before asking Tardis (its publication delay)',
    default: DEFAULT_GAPFILL_OPTIONS.availabilityDelayMs,
    parse: ms(0, 86_400_000),
  },
  attemptTimeoutMs: {
    env: 'GAPFILL_ATTEMPT_TIMEOUT_MS',
    description: 'give up one fill attempt after this long',
    default: DEFAULT_GAPFILL_OPTIONS.attemptTimeoutMs,
    parse: ms(1000, 3_600_000),
  },
  retryBaseMs: {
    env: 'GAPFILL_RETRY_BASE_MS',
    description: 'first backoff after a failed attempt (doubles per attempt)',
    default: DEFAULT_GAPFILL_OPTIONS.retryBaseMs,
    parse: ms(0, 3_600_000),
  },
  maxAttempts: {
    env: 'GAPFILL_MAX_ATTEMPTS',
    description: 'attempts before a gap is unfillable',
    default: DEFAULT_GAPFILL_OPTIONS.maxAttempts,
    parse: parse.int(1, 1000),
  },
  runBudgetMs: {
    env: 'GAPFILL_RUN_BUDGET_MS',
    description: 'stop starting fills after this long into a run',
    default: DEFAULT_GAPFILL_OPTIONS.runBudgetMs,
    parse: ms(1000, 3_600_000),
  },
  insertTimeoutMs: {
    env: 'GAPFILL_INSERT_TIMEOUT_MS',
    description:
      'abort one BigQuery insert (insertAll request or append) after this long (enforced by the adapter)',
    default: 30_000,
    parse: ms(100, 600_000),
  },
  queryTimeoutMs: {
    env: 'GAPFILL_QUERY_TIMEOUT_MS',
    description: 'abort one BigQuery query (with its result polls and pages) after this long',
    default: 60_000,
    parse: ms(100, 600_000),
  },
  detection: {
    env: 'GAPFILL_DETECTION',
    description:
      "'checkpoints' (deployed): coverage holes from the spans the writers keep in the checkpoints, trade-id " +
      'jumps recorded by the relay (no BigQuery byte per run; needs GAPFILL_SETTLE_MS above the checkpoint ' +
      "lag, decisions/0029); 'warehouse': both read from BigQuery each run (coverage and trades day partitions)",
    default: 'warehouse' as const,
    parse: parse.oneOf('checkpoints', 'warehouse'),
  },
  maxBytesBilled: {
    env: 'GAPFILL_MAX_BYTES_BILLED',
    description:
      'maximumBytesBilled of each detection query: BigQuery refuses one that would bill more (docs/COST.md)',
    default: 2 ** 40,
    parse: parse.int(10 * 2 ** 20, Number.MAX_SAFE_INTEGER),
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'least severity logged',
    default: 'INFO' as const,
    parse: parseSeverity,
  },
} as const;

export type GapfillConfig = ConfigOf<typeof GAPFILL_OPTIONS>;

export function readGapfillConfig(env: Readonly<Record<string, string | undefined>>): GapfillConfig {
  const config = readConfig(GAPFILL_OPTIONS, env);
  checkIngestConfig(config);
  return config;
}
