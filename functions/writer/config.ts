import { parse, readConfig, type ConfigOf } from '../core/config.ts';
import { parseSeverity } from '../core/logger.ts';
import { DEFAULT_TOPOLOGY } from '../core/topology.ts';

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
  ensureTables: {
    env: 'WRITER_ENSURE_TABLES',
    description: 'Create dataset, tables and views at start (local stack; Terraform owns them in the cloud)',
    default: false,
    parse: parse.bool,
  },
  insertAttempts: {
    env: 'WRITER_INSERT_ATTEMPTS',
    description: 'insertAll attempts within one delivery before answering 503',
    default: 4,
    parse: parse.int(1, 20),
  },
  checkpointIntervalMs: {
    env: 'CHECKPOINT_MIN_INTERVAL_MS',
    description: 'Least time between two writes of one checkpoint document',
    default: 1000,
    parse: parse.int(0, 60_000),
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
  return readConfig(WRITER_OPTIONS, env);
}
