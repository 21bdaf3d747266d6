/**
 * Composition root of the writer: a functions-framework HTTP function (target `writer`) behind a
 * Pub/Sub push subscription. It only wires adapters into the core; the rules live in core/writer/
 * (writer.ts decides the status) and the HTTP layer in handler.ts.
 */
import * as functions from '@google-cloud/functions-framework';
import { Firestore } from '@google-cloud/firestore';
import { createBigQueryClient } from '../adapters/bigquery/client.ts';
import { ensureWarehouse } from '../adapters/bigquery/tables.ts';
import { BigQueryWarehouse } from '../adapters/bigquery/warehouse.ts';
import { ingestWarehouse } from '../adapters/bigquery/ingest.ts';
import { FirestoreCheckpointStore } from '../adapters/firestore/checkpoint-store.ts';
import { OidcPushAuthenticator } from '../adapters/google-auth/oidc-push-authenticator.ts';
import { CheckpointCoalescer } from '../core/writer/checkpoint-coalescer.ts';
import { loadConfigOrExit, writeLine } from '../adapters/process/entry-point.ts';
import { jsonLogger } from '../core/shared/logger.ts';
import { logSignal } from '../core/shared/signals.ts';
import { systemClock } from '../core/ports.ts';
import { createWriter } from '../core/writer/writer.ts';
import { readWriterConfig } from './config.ts';
import { enforceBodyLimit } from './body-limit.ts';
import { createPushHandler } from './handler.ts';

const config = loadConfigOrExit(readWriterConfig);
const logger = jsonLogger(writeLine, { level: config.logLevel, fields: { component: 'writer' } });
// The client's own retries are off: the writer retries only failed rows, within its delivery deadline.
const bigquery = createBigQueryClient(config.projectId, config.bigqueryEndpoint || undefined, {
  autoRetry: false,
});
let ready: Promise<void> | undefined;
/** Creates the warehouse once (local runs); a failed attempt is retried by the next request. */
function warehouseReady(): Promise<void> {
  ready ??= ensureWarehouse(bigquery, config.projectId, config.dataset).catch((error: unknown) => {
    ready = undefined;
    throw error;
  });
  return ready;
}
// Checkpoints are advisory progress markers: one still pending when an instance is stopped is written
// by the next delivery of that stream (relays send a heartbeat batch at least every second).
const checkpoints = new CheckpointCoalescer(
  new FirestoreCheckpointStore(
    new Firestore({ projectId: config.projectId }),
    config.checkpoints,
    systemClock,
    config.checkpointLayout,
  ),
  systemClock,
  logger,
  config.checkpointIntervalMs,
);
const rest = new BigQueryWarehouse(bigquery, config.dataset, {
  requestTimeoutMs: config.insertTimeoutMs,
  transport: config.insertTransport,
});
const writer = createWriter({
  warehouse: ingestWarehouse(config, rest, config.insertTimeoutMs, logger),
  checkpoints,
  clock: systemClock,
  logger,
  options: {
    insertAttempts: config.insertAttempts,
    insertTimeoutMs: config.insertTimeoutMs,
    deliveryDeadlineMs: config.deliveryDeadlineMs,
    maxInFlightPerTable: config.insertConcurrency,
  },
});
const auth =
  config.pushAuth === 'oidc'
    ? new OidcPushAuthenticator({
        serviceAccount: config.pushServiceAccount,
        audience: config.pushAudience,
        ...(config.pushCertsUrl ? { certsUrl: config.pushCertsUrl } : {}),
      })
    : undefined;
if (config.statsIntervalMs > 0) {
  setInterval(() => writer.reportStats(), config.statsIntervalMs).unref();
}
logger.log('INFO', 'writer ready', {
  dataset: config.dataset,
  ingest: config.ingest,
  pushAuth: config.pushAuth,
  deliveryDeadlineMs: config.deliveryDeadlineMs,
  insertTimeoutMs: config.insertTimeoutMs,
});

// Pub/Sub never sends more than this (10 MB of data is about 14 MB of push body): not a push.
enforceBodyLimit(config.maxBodyBytes, (refusal) => {
  writer.counters.deliveries++;
  writer.counters.rejected++;
  logSignal(logger, 'writer_body_refused', { ...refusal, limit: config.maxBodyBytes });
  return { stats: writer.quickStats() };
});
functions.http(
  'writer',
  createPushHandler({
    writer,
    auth,
    logger,
    projectId: config.projectId,
    ...(config.ensureTables ? { warehouseReady } : {}),
  }),
);
