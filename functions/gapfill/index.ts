/**
 * Composition root of the gap-filler: a functions-framework HTTP function (target `gapfill`) that Cloud
 * Scheduler calls every minute. One call = one run of core/gapfill-service under a Firestore lease.
 */
import { randomBytes } from 'node:crypto';
import * as functions from '@google-cloud/functions-framework';
import { loadConfigOrExit, writeLine } from '../adapters/process/entry-point.ts';
import { errorMessage } from '../core/shared/errors.ts';
import { runGapfill } from '../core/gapfill/gapfill-service.ts';
import { jsonLogger } from '../core/shared/logger.ts';
import { requestLogger } from '../core/shared/trace-context.ts';
import { readGapfillConfig } from './config.ts';
import { wireGapfill } from './deps.ts';

const config = loadConfigOrExit(readGapfillConfig);
const instance = randomBytes(4).toString('hex');
const logger = jsonLogger(writeLine, { level: config.logLevel, fields: { component: 'gapfill', instance } });
const deps = wireGapfill(config, logger);
let runs = 0;

functions.http('gapfill', async (req, res) => {
  if (req.method !== 'POST') {
    res.status(405).send('POST to run the gap-filler once');
    return;
  }
  const holder = `${instance}-${++runs}`;
  const log = requestLogger(logger, config.projectId, (name) => req.get(name));
  try {
    const result = await runGapfill({ ...deps, logger: log, holder });
    log.log('INFO', 'gap-filler run finished', { ...result });
    res.status(200).json(result);
  } catch (error) {
    // A failed run leaves the ledger consistent (gaps stay open/failed); Scheduler retries or the next minute runs.
    log.log('ERROR', 'gap-filler run failed', { error });
    res.status(500).json({ error: errorMessage(error) });
  }
});
