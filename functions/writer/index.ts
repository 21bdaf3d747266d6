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
import { readWriterConfig, type WriterConfig } from './config.ts';

const write = (line: string) => process.stdout.write(line + '\n');

function loadConfig(): WriterConfig {
  try {
    return readWriterConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    jsonLogger(write).log('CRITICAL', `invalid configuration: ${error.message}`, {
      variable: error.variable,
    });
    process.exit(78); // EX_CONFIG: nothing has started yet
  }
}

const config = loadConfig();
const logger = jsonLogger(write, { level: config.logLevel, fields: { component: 'writer' } });
const bigquery = createBigQueryClient(config.projectId, config.bigqueryEndpoint || undefined);
let ready: Promise<void> | undefined;
/** Creates the warehouse once when configured to; a failed attempt is retried by the next request. */
function warehouseReady(): Promise<void> {
  if (!config.ensureTables) return Promise.resolve();
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
  ),
  systemClock,
  logger,
  config.checkpointIntervalMs,
);
const writer = createWriter({
  warehouse: new BigQueryWarehouse(bigquery, config.dataset),
  checkpoints,
  clock: systemClock,
  logger,
  options: { insertAttempts: config.insertAttempts },
});

functions.http('writer', async (req, res) => {
  if (req.method !== 'POST') {
    res.status(405).send('POST a Pub/Sub push envelope');
    return;
  }
  try {
    await warehouseReady();
  } catch (error) {
    logger.log('ERROR', 'warehouse setup failed', { error });
    res.status(503).json({ status: 503, outcome: 'retry', detail: 'warehouse setup failed' });
    return;
  }
  const result = await writer.handle(req.body);
  res.status(result.status).json(result);
});
