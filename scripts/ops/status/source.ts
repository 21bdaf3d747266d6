// Reads one status snapshot from the deployment: coverage and quarantine from BigQuery, the gap ledger
// and checkpoints from Firestore, through the deployables' own adapters. A source that fails is named in
// the snapshot's errors; the others still show.
import { Firestore } from '@google-cloud/firestore';
import { createBigQueryClient } from '../../../functions/adapters/bigquery/client.ts';
import { BigQueryWarehouse } from '../../../functions/adapters/bigquery/warehouse.ts';
import { FirestoreCheckpointStore } from '../../../functions/adapters/firestore/checkpoint-store.ts';
import { FirestoreGapLedger } from '../../../functions/adapters/firestore/gap-ledger.ts';
import type { Gap } from '../../../functions/core/gapfill/gaps.ts';
import { systemClock } from '../../../functions/core/ports.ts';
import { ConfigError } from '../../../functions/core/shared/config.ts';
import { errorMessage } from '../../../functions/core/shared/errors.ts';
import type { StatusEnv } from '../env.ts';
import { StatusQueries } from './queries.ts';
import { buildSnapshot, type SourceError, type StatusSnapshot } from './snapshot.ts';

/** Gaps read from the ledger at most per snapshot (those ending in the range, the latest first). */
export const MAX_GAPS_READ = 2000;

export interface StatusSourceOptions {
  readonly hours: number;
  readonly refreshMs: number;
}

export class StatusSource {
  private readonly firestore: Firestore;
  private readonly ledger: FirestoreGapLedger;
  private readonly checkpoints: FirestoreCheckpointStore;
  private readonly queries: StatusQueries;

  constructor(
    private readonly env: StatusEnv,
    private readonly options: StatusSourceOptions,
  ) {
    this.firestore = firestoreFor(env);
    this.ledger = new FirestoreGapLedger(this.firestore, env.gaps);
    this.checkpoints = new FirestoreCheckpointStore(this.firestore, env.checkpoints, systemClock);
    const bigquery = createBigQueryClient(env.projectId, env.bigqueryEndpoint || undefined);
    const warehouse = new BigQueryWarehouse(bigquery, env.dataset, {
      transport: 'direct',
      queryTimeoutMs: env.queryTimeoutMs,
    });
    this.queries = new StatusQueries(warehouse, env.projectId, env.dataset, env.maxBytesBilled);
  }

  async read(): Promise<StatusSnapshot> {
    const now = Date.now();
    const range = { from: now - this.options.hours * 3_600_000, to: now };
    const errors: SourceError[] = [];
    const settle = async <T>(source: SourceError['source'], work: Promise<T>): Promise<T | undefined> => {
      try {
        return await work;
      } catch (error) {
        errors.push({ source, message: errorMessage(error) });
        return undefined;
      }
    };
    const [coverage, quarantine, gaps, checkpoints] = await Promise.all([
      settle('coverage', this.queries.coverage(this.env.streams, range)),
      settle('quarantine', this.queries.quarantine(range)),
      settle('gaps', this.readGaps(range.from)),
      settle('checkpoints', this.checkpoints.list()),
    ]);
    return buildSnapshot({
      now,
      range,
      refreshMs: this.options.refreshMs,
      deployment: {
        projectId: this.env.projectId,
        dataset: this.env.dataset,
        gapsCollection: this.env.gaps,
        checkpointsCollection: this.env.checkpoints,
        bigquery: this.env.bigqueryEndpoint || 'BigQuery',
        firestore: this.env.firestoreEmulatorHost || 'Firestore',
      },
      streams: this.env.streams,
      coverage,
      quarantine,
      gaps,
      checkpoints,
      errors,
    });
  }

  /** Gaps ending in the range (bounded), plus every gap still being worked on, whenever it lies. */
  private async readGaps(since: number): Promise<{ rows: Gap[]; truncated: boolean }> {
    const [recent, pending] = await Promise.all([
      this.ledger.listEndingAfter(since, MAX_GAPS_READ + 1),
      this.ledger.list({ states: ['open', 'filling', 'failed'] }),
    ]);
    const byId = new Map<string, Gap>();
    for (const gap of [...recent.slice(0, MAX_GAPS_READ), ...pending]) byId.set(gap.id, gap);
    return { rows: [...byId.values()], truncated: recent.length > MAX_GAPS_READ };
  }

  close(): Promise<void> {
    return this.firestore.terminate();
  }
}

/**
 * Firestore, or its emulator when the status environment names one. The client itself always prefers
 * this process's FIRESTORE_EMULATOR_HOST, so a different one there is refused rather than read silently
 * (the page may run inside another process, as in `npm start`).
 */
function firestoreFor(env: StatusEnv): Firestore {
  const host = env.firestoreEmulatorHost;
  const own = process.env.FIRESTORE_EMULATOR_HOST;
  if (host && own && own !== host) {
    throw new ConfigError(
      'FIRESTORE_EMULATOR_HOST',
      `the status page was given ${host}, but this process's ${own} would win`,
    );
  }
  return new Firestore({ projectId: env.projectId, ...(host ? { host, ssl: false } : {}) });
}
