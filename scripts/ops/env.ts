// The ops CLI reads the deployables' environment variables, declared once in functions/gapfill/config.ts;
// each command reads only what it needs, so `gaps` works without a Tardis key.
import { parse, readConfig, type ConfigOf, type Option } from '../../functions/core/shared/config.ts';
import type { GapState } from '../../functions/core/gapfill/gaps.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import { GAPFILL_OPTIONS } from '../../functions/gapfill/config.ts';

type Env = Readonly<Record<string, string | undefined>>;

export const GAP_STATES: readonly GapState[] = ['open', 'filling', 'filled', 'failed', 'unfillable'];

const JOB_NAME = /^projects\/[^/]+\/locations\/[^/]+\/jobs\/[A-Za-z0-9_-]+$/;

const OPTIONAL_STREAMS: Option<StreamKey[] | null> = {
  env: 'RELAY_STREAMS',
  description: 'the recorded streams; when set, stream names are checked against it',
  default: null,
  parse: parseStreamsConfig,
};

export const LEDGER_OPTIONS = {
  projectId: GAPFILL_OPTIONS.projectId,
  gaps: GAPFILL_OPTIONS.gaps,
  checkpoints: GAPFILL_OPTIONS.checkpoints,
  streams: OPTIONAL_STREAMS,
} as const;

/** What `ops serve` reads: the ledger and checkpoints in Firestore, coverage and quarantine in BigQuery. */
export const STATUS_OPTIONS = {
  projectId: GAPFILL_OPTIONS.projectId,
  streams: GAPFILL_OPTIONS.streams,
  dataset: GAPFILL_OPTIONS.dataset,
  bigqueryEndpoint: GAPFILL_OPTIONS.bigqueryEndpoint,
  gaps: GAPFILL_OPTIONS.gaps,
  checkpoints: GAPFILL_OPTIONS.checkpoints,
  queryTimeoutMs: GAPFILL_OPTIONS.queryTimeoutMs,
  maxBytesBilled: GAPFILL_OPTIONS.maxBytesBilled,
  firestoreEmulatorHost: {
    env: 'FIRESTORE_EMULATOR_HOST',
    description: 'host:port of the Firestore emulator (unset: real Firestore)',
    default: '',
    parse: parse.string,
  },
} as const;

export const SCHEDULER_OPTIONS = {
  job: {
    env: 'SCHEDULER_JOB',
    description: "the gap-filler's Cloud Scheduler job, projects/P/locations/L/jobs/J",
    parse: (raw: string) => {
      if (!JOB_NAME.test(raw)) throw new Error('expected projects/PROJECT/locations/LOCATION/jobs/JOB');
      return raw;
    },
  },
  endpoint: {
    env: 'SCHEDULER_API_ENDPOINT',
    description: 'host:port of the local Cloud Scheduler stand-in (unset: the real service)',
    default: '',
    parse: parse.string,
  },
} as const;

/** What `ops fleet` reads: the relays' fleet collections, their lease and the shard plan's inputs. */
export const FLEET_OPTIONS = {
  projectId: GAPFILL_OPTIONS.projectId,
  members: {
    env: 'MEMBERS_COLLECTION',
    description: "the relay fleet's members (RELAY_OPTIONS' default)",
    default: 'relay_members',
    parse: parse.string,
  },
  shards: {
    env: 'SHARDS_COLLECTION',
    description: "the relay fleet's shard ownership records",
    default: 'relay_shards',
    parse: parse.string,
  },
  leaseMs: {
    env: 'RELAY_FLEET_LEASE_MS',
    description: "the relays' lease: a member not renewed for this long (server time) is dead",
    default: 5000,
    parse: parse.int(500, 120_000),
  },
  minShards: {
    env: 'RELAY_FLEET_MIN_SHARDS',
    description: "the relays' least shards per exchange, to list the shards no record names yet",
    default: 1,
    parse: parse.int(1, 1024),
  },
  streams: OPTIONAL_STREAMS,
} as const;

export type FleetEnv = ConfigOf<typeof FLEET_OPTIONS>;

export function readFleetEnv(env: Env): FleetEnv {
  return readConfig(FLEET_OPTIONS, env);
}

export type LedgerEnv = ConfigOf<typeof LEDGER_OPTIONS>;
export type SchedulerEnv = ConfigOf<typeof SCHEDULER_OPTIONS>;
export type StatusEnv = ConfigOf<typeof STATUS_OPTIONS>;

export function readLedgerEnv(env: Env): LedgerEnv {
  return readConfig(LEDGER_OPTIONS, env);
}

export function readStatusEnv(env: Env): StatusEnv {
  return readConfig(STATUS_OPTIONS, env);
}

export function readSchedulerEnv(env: Env): SchedulerEnv {
  return readConfig(SCHEDULER_OPTIONS, env);
}

/** Which commands read a variable beyond the common GOOGLE_CLOUD_PROJECT. */
const USED_BY: Readonly<Record<string, string>> = {
  GOOGLE_CLOUD_PROJECT: 'required by gaps, checkpoints, backfill, serve, fleet',
  LOG_LEVEL: 'backfill progress on stderr',
  RELAY_STREAMS: 'required by backfill and serve; fleet lists its shards; elsewhere checks stream names',
  BIGQUERY_DATASET: 'backfill, serve',
  BIGQUERY_API_ENDPOINT: 'backfill, serve',
  BIGQUERY_STORAGE_EMULATOR_HOST: 'backfill',
  GAPFILL_QUERY_TIMEOUT_MS: 'backfill, serve',
  GAPFILL_MAX_BYTES_BILLED: 'backfill, serve',
  CHECKPOINTS_COLLECTION: 'checkpoints, backfill, serve',
  GAPS_COLLECTION: 'gaps, backfill, serve',
  SCHEDULER_JOB: 'required by scheduler',
  SCHEDULER_API_ENDPOINT: 'scheduler',
  MEMBERS_COLLECTION: 'fleet',
  SHARDS_COLLECTION: 'fleet',
  RELAY_FLEET_LEASE_MS: 'fleet',
  RELAY_FLEET_MIN_SHARDS: 'fleet',
};

/** Every variable the CLI reads, for --help. */
export function describeEnv(): string {
  const fleet = [FLEET_OPTIONS.members, FLEET_OPTIONS.shards, FLEET_OPTIONS.leaseMs, FLEET_OPTIONS.minShards];
  const options: Option<unknown>[] = [
    ...Object.values(GAPFILL_OPTIONS),
    ...Object.values(SCHEDULER_OPTIONS),
    ...fleet,
  ];
  const lines: string[] = [];
  for (const option of options) {
    const fallback =
      'default' in option && option.default !== '' ? `; default ${JSON.stringify(option.default)}` : '';
    lines.push(
      `  ${option.env.padEnd(30)} ${option.description} [${USED_BY[option.env] ?? 'backfill'}${fallback}]`,
    );
  }
  lines.push(
    `  ${'FIRESTORE_EMULATOR_HOST'.padEnd(30)} host:port of the Firestore emulator (unset: real Firestore)`,
  );
  return lines.join('\n');
}
