/**
 * Composition root of the writer: a functions-framework HTTP function (target `writer`) behind a
 * Pub/Sub push subscription. It only wires adapters into the core; the rules live in core/writer-service.
 */
import * as functions from '@google-cloud/functions-framework';
import { Firestore } from '@google-cloud/firestore';
import { BigQueryWarehouse, createBigQueryClient, ensureWarehouse } from '../adapters/bigquery.ts';
import { FirestoreCheckpointStore } from '../adapters/firestore.ts';
import { CheckpointCoalescer } from '../core/checkpoint-coalescer.ts';
import { ConfigError } from '../core/config.ts';
import { jsonLogger } from '../core/logger.ts';
import { systemClock } from '../core/ports.ts';
import { createWriter } from '../core/writer-service.ts';
import { readWriterConfig } from './config.ts';

const logger = jsonLogger((line) => process.stdout.write(line + '\n'));
let config;
try {
  config = readWriterConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    logger.log('CRITICAL', `invalid configuration: ${error.message}`, { variable: error.variable });
    process.exit(78);
  }
  throw error;
}
const log = jsonLogger((line) => process.stdout.write(line + '\n'), {
  level: config.logLevel,
  fields: { component: 'writer' },
});

const bigquery = createBigQueryClient(config.projectId, config.bigqueryEndpoint || undefined);
const ready = config.ensureTables ? ensureWarehouse(bigquery, config.projectId, config.dataset) : Promise.resolve();
const firestore = new Firestore({ projectId: config.projectId });
const checkpoints = new CheckpointCoalescer(
  new FirestoreCheckpointStore(firestore, config.checkpoints, systemClock),
  systemClock,
  log,
  config.checkpointIntervalMs,
);
const writer = createWriter({
  warehouse: new BigQueryWarehouse(bigquery, config.dataset),
  checkpoints,
  clock: systemClock,
  logger: log,
  options: { insertAttempts: config.insertAttempts },
});

functions.http('writer', async (req, res) => {
  if (req.method !== 'POST') {
    res.status(405).send('POST a Pub/Sub push envelope');
    return;
  }
  await ready;
  const result = await writer.handle(req.body);
  res.status(result.status).json(result);
});

// Cloud Run sends SIGTERM before stopping an instance: write pending checkpoints first.
process.once('SIGTERM', () => {
  void checkpoints.close().finally(() => process.exit(0));
});
