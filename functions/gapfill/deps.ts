/**
 * The gap-filler's adapters wired from its configuration, in one place: the function (index.ts) and the
 * ops CLI (`npm run ops -- backfill`) both build their GapfillDeps here, so the wiring is written once.
 */
import { Firestore } from '@google-cloud/firestore';
import { BigQueryGapQueries } from '../adapters/bigquery/gap-queries.ts';
import { CheckpointGapQueries } from '../core/gapfill/checkpoint-coverage.ts';
import { createBigQueryClient } from '../adapters/bigquery/client.ts';
import { BigQueryWarehouse } from '../adapters/bigquery/warehouse.ts';
import { ingestWarehouse } from '../adapters/bigquery/ingest.ts';
import { FirestoreCheckpointStore } from '../adapters/firestore/checkpoint-store.ts';
import { FirestoreGapLedger } from '../adapters/firestore/gap-ledger.ts';
import { FirestoreLeaseStore } from '../adapters/firestore/lease-store.ts';
import { TardisHistorySource } from '../adapters/tardis/history-source.ts';
import type { GapfillDeps } from '../core/gapfill/deps.ts';
import { DEFAULT_GAPFILL_OPTIONS, type GapfillOptions } from '../core/gapfill/options.ts';
import { systemClock, type Clock, type Logger } from '../core/ports.ts';
import type { GapfillConfig } from './config.ts';

/** Everything a run needs except its lease holder, which is unique per run. */
export type GapfillWiring = Omit<GapfillDeps, 'holder'> & {
  readonly firestore: Firestore;
  /** Releases the clients' connections. Safe to call twice. */
  close(): Promise<void>;
};

export function gapfillOptions(config: GapfillConfig): GapfillOptions {
  return {
    ...DEFAULT_GAPFILL_OPTIONS,
    streams: config.streams,
    lookbackMs: config.lookbackMs,
    settleMs: config.settleMs,
    availabilityDelayMs: config.availabilityDelayMs,
    attemptTimeoutMs: config.attemptTimeoutMs,
    retryBaseMs: config.retryBaseMs,
    maxAttempts: config.maxAttempts,
    runBudgetMs: config.runBudgetMs,
  };
}

export function wireGapfill(
  config: GapfillConfig,
  logger: Logger,
  clock: Clock = systemClock,
): GapfillWiring {
  // FIRESTORE_EMULATOR_HOST, when set, points this client at the emulator.
  const firestore = new Firestore({ projectId: config.projectId });
  const bigquery = createBigQueryClient(config.projectId, config.bigqueryEndpoint || undefined);
  // Every request with an enforced timeout: the client's own `timeout` is not (see BigQueryWarehouse).
  const rest = new BigQueryWarehouse(bigquery, config.dataset, {
    transport: 'direct',
    requestTimeoutMs: config.insertTimeoutMs,
    queryTimeoutMs: config.queryTimeoutMs,
  });
  // Backfilled rows go the writer's way (WRITER_INGEST); the detection queries stay on REST.
  const warehouse = ingestWarehouse(config, rest, config.insertTimeoutMs, logger);
  let closing: Promise<void> | undefined;
  const checkpoints = new FirestoreCheckpointStore(firestore, config.checkpoints, clock);
  return {
    firestore,
    warehouse,
    gapQueries:
      config.detection === 'checkpoints'
        ? new CheckpointGapQueries(checkpoints)
        : new BigQueryGapQueries(rest, config.projectId, config.dataset, config.maxBytesBilled),
    ledger: new FirestoreGapLedger(firestore, config.gaps),
    leases: new FirestoreLeaseStore(firestore, config.leases, clock),
    checkpoints,
    history: new TardisHistorySource({ endpoint: config.tardisEndpoint, apiKey: config.tardisApiKey }),
    clock,
    logger,
    options: gapfillOptions(config),
    close() {
      closing ??= (warehouse.close?.(), firestore.terminate());
      return closing;
    },
  };
}
