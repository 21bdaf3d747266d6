/**
 * Composition root of the gap-filler: a functions-framework HTTP function (target `gapfill`) that Cloud
 * Scheduler calls every minute. One call = one run of core/gapfill-service under a Firestore lease.
 */
import { randomBytes } from 'node:crypto';
import * as functions from '@google-cloud/functions-framework';
import { loadConfigOrExit, writeLine } from '../adapters/process/entry-point.ts';
import { jsonLogger } from '../core/shared/logger.ts';
import { readGapfillConfig } from './config.ts';
import { wireGapfill } from './deps.ts';
import { createGapfillHandler } from './handler.ts';

const config = loadConfigOrExit(readGapfillConfig);
const instance = randomBytes(4).toString('hex');
const logger = jsonLogger(writeLine, { level: config.logLevel, fields: { component: 'gapfill', instance } });
const deps = wireGapfill(config, logger);

functions.http('gapfill', createGapfillHandler({ run: deps, projectId: config.projectId, instance }));
