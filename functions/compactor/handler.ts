/**
 * The compactor's HTTP layer, apart from the functions-framework registration (index.ts) so tests can
 * drive it: one POST = one run over every compacted table; 500 when a table failed (Scheduler shows it,
 * and the next run merges the same days again).
 */
import { compactedTables, runCompaction, type SettledWarehouse } from '../core/compaction/compact.ts';
import type { CompactionOptions } from '../core/compaction/plan.ts';
import type { Clock, Logger } from '../core/ports.ts';
import { errorMessage } from '../core/shared/errors.ts';
import { requestLogger, type HeaderReader } from '../core/shared/trace-context.ts';

export interface CompactorHttpRequest {
  readonly method: string;
  get: HeaderReader;
}

export interface CompactorHttpResponse {
  status(code: number): CompactorHttpResponse;
  json(body: unknown): unknown;
  send(body: string): unknown;
}

export interface CompactorHandlerDeps {
  readonly warehouse: SettledWarehouse;
  readonly clock: Clock;
  readonly options: CompactionOptions;
  readonly logger: Logger;
  readonly projectId: string;
}

export function createCompactorHandler(deps: CompactorHandlerDeps) {
  return async function handle(req: CompactorHttpRequest, res: CompactorHttpResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.status(405).send('POST to run the compactor once');
      return;
    }
    const log = requestLogger(deps.logger, deps.projectId, (name) => req.get(name));
    try {
      const result = await runCompaction(compactedTables(), deps.warehouse, deps.clock, deps.options, log);
      log.log(result.failed.length === 0 ? 'INFO' : 'ERROR', 'compactor run finished', { ...result });
      res.status(result.failed.length === 0 ? 200 : 500).json(result);
    } catch (error) {
      log.log('ERROR', 'compactor run failed', { error: errorMessage(error) });
      res.status(500).json({ error: errorMessage(error) });
    }
  };
}
