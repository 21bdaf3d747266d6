/**
 * Composition root of the compactor (decisions/0028): a functions-framework HTTP function (target
 * `compactor`) that Cloud Scheduler calls every hour. One call merges the settled days of quotes and
 * derivative tickers into their `_settled` tables and publishes the views' new boundary.
 */
import * as functions from '@google-cloud/functions-framework';
import { createBigQueryClient } from '../adapters/bigquery/client.ts';
import { BigQuerySettledWarehouse } from '../adapters/bigquery/settled-warehouse.ts';
import { loadConfigOrExit, writeLine } from '../adapters/process/entry-point.ts';
import { systemClock } from '../core/ports.ts';
import { jsonLogger } from '../core/shared/logger.ts';
import { readCompactorConfig } from './config.ts';
import { createCompactorHandler } from './handler.ts';

const config = loadConfigOrExit(readCompactorConfig);
const logger = jsonLogger(writeLine, { level: config.logLevel, fields: { component: 'compactor' } });
const bigquery = createBigQueryClient(config.projectId, config.bigqueryEndpoint || undefined);
const warehouse = new BigQuerySettledWarehouse(bigquery, config.projectId, config.dataset, {
  maxBytesBilled: config.maxBytesBilled,
  jobTimeoutMs: config.jobTimeoutMs,
});

functions.http(
  'compactor',
  createCompactorHandler({
    warehouse,
    clock: systemClock,
    options: {
      settleMs: config.settleMs,
      recheckDays: config.recheckDays,
      fillLookbackMs: config.fillLookbackMs,
      maxNewDays: config.maxNewDays,
    },
    logger,
    projectId: config.projectId,
  }),
);
