/**
 * Composition root of the gap-filler: a functions-framework HTTP function (target `gapfill`) that Cloud
 * Scheduler calls every minute. One call = one run of core/gapfill-service under a Firestore lease.
 */
import { randomBytes } from 'node:crypto';
import * as functions from '@google-cloud/functions-framework';
import { Firestore } from '@google-cloud/firestore';
import { BigQueryWarehouse, createBigQueryClient } from '../adapters/bigquery.ts';
import { FirestoreCheckpointStore } from '../adapters/firestore.ts';
import { FirestoreGapLedger } from '../adapters/firestore-gaps.ts';
import { FirestoreLeaseStore } from '../adapters/firestore-lease.ts';
import { TardisHistorySource } from '../adapters/tardis-history.ts';
import { ConfigError } from '../core/config.ts';
import { DEFAULT_GAPFILL_OPTIONS, runGapfill } from '../core/gapfill-service.ts';
import { jsonLogger } from '../core/logger.ts';
import { systemClock } from '../core/ports.ts';
import { readGapfillConfig, type GapfillConfig } from './config.ts';

const write = (line: string) => process.stdout.write(line + '\n');

function loadConfig(): GapfillConfig {
  try {
    return readGapfillConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    jsonLogger(write).log('CRITICAL', `invalid configuration: ${error.message}`, {
      variable: error.variable,
    });
    process.exit(78); // EX_CONFIG: nothing has started yet
  }
}

const config = loadConfig();
const instance = randomBytes(4).toString('hex');
const logger = jsonLogger(write, { level: config.logLevel, fields: { component: 'gapfill', instance } });
const firestore = new Firestore({ projectId: config.projectId });
const bigquery = createBigQueryClient(config.projectId, config.bigqueryEndpoint || undefined);
const warehouse = new BigQueryWarehouse(bigquery, config.dataset);
const ledger = new FirestoreGapLedger(firestore, config.gaps);
const leases = new FirestoreLeaseStore(firestore, config.leases, systemClock);
const checkpoints = new FirestoreCheckpointStore(firestore, config.checkpoints, systemClock);
const history = new TardisHistorySource({ endpoint: config.tardisEndpoint, apiKey: config.tardisApiKey });
let runs = 0;

functions.http('gapfill', async (req, res) => {
  if (req.method !== 'POST') {
    res.status(405).send('POST to run the gap-filler once');
    return;
  }
  const holder = `${instance}-${++runs}`;
  try {
    const result = await runGapfill({
      warehouse,
      ledger,
      leases,
      history,
      checkpoints,
      clock: systemClock,
      logger,
      holder,
      options: {
        ...DEFAULT_GAPFILL_OPTIONS,
        projectId: config.projectId,
        dataset: config.dataset,
        streams: config.streams,
        lookbackMs: config.lookbackMs,
        settleMs: config.settleMs,
        availabilityDelayMs: config.availabilityDelayMs,
        attemptTimeoutMs: config.attemptTimeoutMs,
        retryBaseMs: config.retryBaseMs,
        maxAttempts: config.maxAttempts,
        runBudgetMs: config.runBudgetMs,
      },
    });
    logger.log('INFO', 'gap-filler run finished', { ...result });
    res.status(200).json(result);
  } catch (error) {
    // A failed run leaves the ledger consistent (gaps stay open/failed); Scheduler retries or the next minute runs.
    logger.log('ERROR', 'gap-filler run failed', { error });
    res.status(500).json({ error: error instanceof Error ? error.message : String(error) });
  }
});
