/**
 * The gap-filler's HTTP layer, apart from the functions-framework registration (index.ts) so tests can
 * drive it: one POST = one run under the lease, its lines under the request's trace.
 */
import type { GapfillDeps } from '../core/gapfill/deps.ts';
import { runGapfill } from '../core/gapfill/gapfill-service.ts';
import { errorMessage } from '../core/shared/errors.ts';
import { logSignal } from '../core/shared/signals.ts';
import { requestLogger, type HeaderReader } from '../core/shared/trace-context.ts';

/** The part of an Express request the handler reads. */
export interface GapfillHttpRequest {
  readonly method: string;
  get: HeaderReader;
}

/** The part of an Express response the handler writes. */
export interface GapfillHttpResponse {
  status(code: number): GapfillHttpResponse;
  json(body: unknown): unknown;
  send(body: string): unknown;
}

export interface GapfillHandlerDeps {
  /** Everything a run needs but its holder; the logger is the process's (each request gets a child). */
  readonly run: Omit<GapfillDeps, 'holder'>;
  /** Names the traces in log lines (`logging.googleapis.com/trace`). */
  readonly projectId: string;
  /** This process's id; each run holds the lease as `<instance>-<n>`. */
  readonly instance: string;
}

export function createGapfillHandler(deps: GapfillHandlerDeps) {
  let runs = 0;
  return async function handle(req: GapfillHttpRequest, res: GapfillHttpResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.status(405).send('POST to run the gap-filler once');
      return;
    }
    const holder = `${deps.instance}-${++runs}`;
    const log = requestLogger(deps.run.logger, deps.projectId, (name) => req.get(name));
    try {
      const result = await runGapfill({ ...deps.run, logger: log, holder });
      log.log('INFO', 'gap-filler run finished', { ...result });
      res.status(200).json(result);
    } catch (error) {
      // A failed run leaves the ledger consistent (gaps stay open/failed); Scheduler retries or the next minute runs.
      logSignal(log, 'gapfill_run_failed', { error });
      res.status(500).json({ error: errorMessage(error) });
    }
  };
}
