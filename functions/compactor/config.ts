import { DEFAULT_COMPACTION_OPTIONS } from '../core/compaction/plan.ts';
import { parse, readConfig, type ConfigOf } from '../core/shared/config.ts';
import { GAPFILL_OPTIONS } from '../gapfill/config.ts';

const HOUR_MS = 3_600_000;

export const COMPACTOR_OPTIONS = {
  // The same project, dataset, endpoint and log level options as the gap-filler's.
  projectId: GAPFILL_OPTIONS.projectId,
  dataset: GAPFILL_OPTIONS.dataset,
  bigqueryEndpoint: GAPFILL_OPTIONS.bigqueryEndpoint,
  settleMs: {
    env: 'COMPACTOR_SETTLE_MS',
    description: 'a day is merged this long after it ends (late batches, the gap-filler first attempts)',
    default: DEFAULT_COMPACTION_OPTIONS.settleMs,
    parse: parse.int(HOUR_MS, 7 * 24 * HOUR_MS),
  },
  recheckDays: {
    env: 'COMPACTOR_RECHECK_DAYS',
    description: 'settled days merged again whenever the boundary moves',
    default: DEFAULT_COMPACTION_OPTIONS.recheckDays,
    parse: parse.int(0, 31),
  },
  fillLookbackMs: {
    env: 'COMPACTOR_FILL_LOOKBACK_MS',
    description: 'gaps filled this recently send their settled day to a merge again',
    default: DEFAULT_COMPACTION_OPTIONS.fillLookbackMs,
    parse: parse.int(HOUR_MS, 31 * 24 * HOUR_MS),
  },
  maxNewDays: {
    env: 'COMPACTOR_MAX_NEW_DAYS',
    description: 'most days one run settles (the first run over existing history)',
    default: DEFAULT_COMPACTION_OPTIONS.maxNewDays,
    parse: parse.int(1, 366),
  },
  maxBytesBilled: {
    env: 'COMPACTOR_MAX_BYTES_BILLED',
    description: 'maximumBytesBilled of each statement: BigQuery refuses one that would bill more',
    default: 2 ** 42,
    parse: parse.int(10 * 2 ** 20, Number.MAX_SAFE_INTEGER),
  },
  jobTimeoutMs: {
    env: 'COMPACTOR_JOB_TIMEOUT_MS',
    description: 'BigQuery cancels a statement that runs longer',
    default: 600_000,
    parse: parse.int(10_000, 6 * HOUR_MS),
  },
  logLevel: GAPFILL_OPTIONS.logLevel,
} as const;

export type CompactorConfig = ConfigOf<typeof COMPACTOR_OPTIONS>;

export function readCompactorConfig(env: Readonly<Record<string, string | undefined>>): CompactorConfig {
  return readConfig(COMPACTOR_OPTIONS, env);
}
