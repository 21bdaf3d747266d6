/**
 * The writer's and the gap-filler's HTTP handlers with the real JSON logger: an ERROR line written while
 * handling a request is what Cloud Logging and Error Reporting need, a stack in `stack_trace` and the
 * request's trace in the special fields, as one stdout line.
 */
import test from 'ava';
import { DEFAULT_GAPFILL_OPTIONS } from '../../functions/core/gapfill/options.ts';
import type { GapQueries, Logger } from '../../functions/core/ports.ts';
import { jsonLogger, silentLogger } from '../../functions/core/shared/logger.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { createWriter } from '../../functions/core/writer/writer.ts';
import { createGapfillHandler } from '../../functions/gapfill/handler.ts';
import { createPushHandler } from '../../functions/writer/handler.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryGapLedger } from '../support/doubles/gap-ledger.ts';
import { MemoryHistorySource } from '../support/doubles/history-source.ts';
import { MemoryLeaseStore } from '../support/doubles/lease-store.ts';
import { MemoryWarehouse } from '../support/doubles/warehouse.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const T0 = Date.UTC(2026, 0, 2, 12);

interface Answer {
  status?: number;
  body?: unknown;
}
function response(answer: Answer) {
  const res = {
    status: (code: number) => ((answer.status = code), res),
    json: (body: unknown) => (answer.body = body),
    send: (body: string) => (answer.body = body),
  };
  return res;
}

/** stdout as the deployables write it, parsed line by line. */
function stdout() {
  const lines: string[] = [];
  const logger = jsonLogger((line) => lines.push(line), { fields: { component: 'test' } });
  return { logger, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function assertErrorLine(
  t: import('ava').ExecutionContext,
  line: Record<string, unknown> | undefined,
  message: string,
): void {
  t.truthy(line, `a line "${message}"`);
  t.is(line!.severity, 'ERROR');
  t.is(line!.message, message);
  t.true(
    String(line!.stack_trace).startsWith(`Error: ${(line!.error as { message: string }).message}\n    at `),
  );
  t.is(line!['logging.googleapis.com/trace'], `projects/proj-1/traces/${TRACE}`);
  t.is(line!['logging.googleapis.com/spanId'], SPAN);
  t.is(line!['logging.googleapis.com/trace_sampled'], true);
}

test("the writer's ERROR line for a failed request carries the stack and that request's trace", async (t) => {
  const out = stdout();
  const clock = new ManualClock(T0);
  const checkpoints = new CheckpointCoalescer(new MemoryCheckpointStore(clock), clock, silentLogger, 0);
  const writer = createWriter({ warehouse: new MemoryWarehouse(), checkpoints, clock, logger: out.logger });
  const handle = createPushHandler({
    writer,
    auth: undefined,
    logger: out.logger,
    projectId: 'proj-1',
    warehouseReady: () => Promise.reject(new Error('dataset tickstream not found')),
  });
  const answer: Answer = {};
  const traceparent = `00-${TRACE}-${SPAN}-01`;
  await handle(
    { method: 'POST', body: {}, get: (h) => (h === 'traceparent' ? traceparent : undefined) },
    response(answer),
  );
  t.is(answer.status, 503);
  const [line] = out.entries().filter((e) => e.message === 'warehouse setup failed');
  assertErrorLine(t, line, 'warehouse setup failed');
  t.deepEqual(line!.error, { name: 'Error', message: 'dataset tickstream not found' });
});

/** The gap-filler's handler over in-memory doubles whose coverage query fails with `error`. */
function failingGapfill(logger: Logger, error: Error) {
  const clock = new ManualClock(T0);
  const broken: GapQueries = {
    coverageWindows: () => Promise.reject(error),
    tradeIdJumps: async () => new Map(),
  };
  return createGapfillHandler({
    run: {
      warehouse: new MemoryWarehouse(),
      gapQueries: broken,
      ledger: new MemoryGapLedger(),
      leases: new MemoryLeaseStore(clock),
      history: new MemoryHistorySource(),
      checkpoints: new MemoryCheckpointStore(clock),
      clock,
      logger,
      options: {
        ...DEFAULT_GAPFILL_OPTIONS,
        streams: [{ exchange: 'binance', symbol: 'btcusdt', type: 'trade' }],
      },
    },
    projectId: 'proj-1',
    instance: 'i1',
  });
}

test("the gap-filler's lines of a failed run carry that request's trace, and its ERROR line the stack", async (t) => {
  const out = stdout();
  const handle = failingGapfill(out.logger, new Error('BigQuery: 503 backendError'));
  const answer: Answer = {};
  const cloudTrace = `${TRACE}/${BigInt(`0x${SPAN}`).toString()};o=1`;
  await handle(
    { method: 'POST', get: (h) => (h === 'x-cloud-trace-context' ? cloudTrace : undefined) },
    response(answer),
  );
  t.is(answer.status, 500);
  const entries = out.entries();
  const [line] = entries.filter((e) => e.message === 'gap-filler run failed');
  assertErrorLine(t, line, 'gap-filler run failed');
  t.is(line!.signal, 'gapfill_run_failed');
  t.is(line!.component, 'test', "the process logger's fields stay");
  for (const entry of entries) t.is(entry['logging.googleapis.com/trace'], `projects/proj-1/traces/${TRACE}`);
});

test('a gap-filler request without a trace header logs its failure without trace fields, stack kept', async (t) => {
  const out = stdout();
  const handle = failingGapfill(out.logger, new Error('down'));
  await handle({ method: 'POST', get: () => undefined }, response({}));
  const [line] = out.entries().filter((e) => e.message === 'gap-filler run failed');
  t.true(String(line?.stack_trace).startsWith('Error: down\n'));
  t.false(Object.keys(line ?? {}).some((k) => k.startsWith('logging.googleapis.com/')));
});
