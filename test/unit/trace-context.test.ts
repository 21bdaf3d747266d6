import test from 'ava';
import {
  parseCloudTraceContext,
  parseTraceparent,
  readTraceContext,
  requestLogger,
  traceLogFields,
} from '../../functions/core/shared/trace-context.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { createWriter } from '../../functions/core/writer/writer.ts';
import { createPushHandler, type PushHttpResponse } from '../../functions/writer/handler.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';
import { MemoryWarehouse } from '../support/doubles/warehouse.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const headers =
  (values: Record<string, string>) =>
  (name: string): string | undefined =>
    values[name.toLowerCase()];

test('a valid traceparent gives its trace id, span id and sampled flag', (t) => {
  t.deepEqual(parseTraceparent(`00-${TRACE}-00f067aa0ba902b7-01`), {
    traceId: TRACE,
    spanId: '00f067aa0ba902b7',
    sampled: true,
  });
  t.is(parseTraceparent(`00-${TRACE}-00f067aa0ba902b7-00`)?.sampled, false);
});

test('a valid X-Cloud-Trace-Context gives the span as 16 hex digits and o=1 as sampled', (t) => {
  t.deepEqual(parseCloudTraceContext(`${TRACE}/1;o=1`), {
    traceId: TRACE,
    spanId: '0000000000000001',
    sampled: true,
  });
  t.deepEqual(parseCloudTraceContext(`${TRACE}/18446744073709551615;o=0`), {
    traceId: TRACE,
    spanId: 'ffffffffffffffff',
    sampled: false,
  });
  t.deepEqual(parseCloudTraceContext(TRACE), { traceId: TRACE, sampled: false });
});

test('malformed traceparent headers give no context', (t) => {
  for (const header of [
    '',
    'garbage',
    `00-${TRACE}-00f067aa0ba902b7`,
    `00-${TRACE.slice(1)}-00f067aa0ba902b7-01`,
    `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`,
    `ff-${TRACE}-00f067aa0ba902b7-01`,
    `00-${TRACE}-00f067aa0ba902b7-01-extra`,
    `00-${TRACE}-00f067aa0ba902zz-01`,
  ]) {
    t.is(parseTraceparent(header), undefined, header);
  }
});

test('malformed X-Cloud-Trace-Context headers give no context', (t) => {
  for (const header of [
    '',
    'garbage',
    `${TRACE}/abc;o=1`,
    `${TRACE}/18446744073709551616;o=1`,
    `${'0'.repeat(32)}/1;o=1`,
    `${TRACE.slice(2)}/1;o=1`,
    `${TRACE}/1;o=x`,
  ]) {
    t.is(parseCloudTraceContext(header), undefined, header);
  }
});

test('absent headers give no context and no fields', (t) => {
  t.is(parseTraceparent(undefined), undefined);
  t.is(parseCloudTraceContext(undefined), undefined);
  t.is(readTraceContext(headers({})), undefined);
  t.deepEqual(traceLogFields(undefined, 'p'), {});
});

test('traceparent wins over X-Cloud-Trace-Context; a malformed one falls back to it', (t) => {
  const other = 'a'.repeat(32);
  const both = { traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, 'x-cloud-trace-context': `${other}/5;o=1` };
  t.is(readTraceContext(headers(both))?.traceId, TRACE);
  t.is(readTraceContext(headers({ ...both, traceparent: 'bad' }))?.traceId, other);
});

test('the log fields name the trace in the configured project', (t) => {
  t.deepEqual(traceLogFields({ traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: true }, 'proj-1'), {
    'logging.googleapis.com/trace': `projects/proj-1/traces/${TRACE}`,
    'logging.googleapis.com/spanId': '00f067aa0ba902b7',
    'logging.googleapis.com/trace_sampled': true,
  });
  t.deepEqual(traceLogFields({ traceId: TRACE, sampled: false }, 'proj-1'), {
    'logging.googleapis.com/trace': `projects/proj-1/traces/${TRACE}`,
    'logging.googleapis.com/trace_sampled': false,
  });
  t.deepEqual(traceLogFields({ traceId: TRACE, sampled: true }, ''), {});
});

test('every line of a request logger carries the trace fields; a malformed header adds none', (t) => {
  const logger = new MemoryLogger();
  const traced = requestLogger(logger, 'proj-1', headers({ 'x-cloud-trace-context': `${TRACE}/1;o=1` }));
  traced.log('INFO', 'one');
  traced.child({ batchId: 'b' }).log('WARNING', 'two');
  for (const entry of logger.entries) {
    t.is(entry.fields['logging.googleapis.com/trace'], `projects/proj-1/traces/${TRACE}`, entry.message);
  }
  t.is(requestLogger(logger, 'proj-1', headers({ traceparent: 'nonsense' })), logger);
});

/** The writer's HTTP handler over in-memory doubles; the writer's own logger stays silent. */
function pushHandler(logger: MemoryLogger) {
  const clock = new ManualClock(Date.UTC(2026, 0, 2));
  const checkpoints = new CheckpointCoalescer(new MemoryCheckpointStore(clock), clock, silentLogger, 0);
  const writer = createWriter({ warehouse: new MemoryWarehouse(), checkpoints, clock, logger: silentLogger });
  return createPushHandler({ writer, auth: undefined, logger, projectId: 'proj-1' });
}

const response: PushHttpResponse = { status: () => response, json: () => undefined };
const traced = { 'x-cloud-trace-context': `${TRACE}/1;o=1` };

test("the writer's lines for a push request carry that request's trace", async (t) => {
  const logger = new MemoryLogger();
  const handle = pushHandler(logger);
  await handle({ method: 'POST', body: {}, get: headers(traced) }, response);
  const poison = { message: { data: Buffer.from('{"v":4}').toString('base64'), messageId: 'm9' } };
  await handle({ method: 'POST', body: { ...poison, subscription: 's' }, get: headers(traced) }, response);
  t.deepEqual(
    logger.entries.map((e) => e.message),
    ['request is not a Pub/Sub push', 'message quarantined'],
  );
  for (const entry of logger.entries) {
    t.is(entry.fields['logging.googleapis.com/trace'], `projects/proj-1/traces/${TRACE}`, entry.message);
    t.is(entry.fields['logging.googleapis.com/spanId'], '0000000000000001', entry.message);
    t.is(entry.fields['logging.googleapis.com/trace_sampled'], true, entry.message);
  }
});

test('a push request with a malformed trace header is handled and logged without trace fields', async (t) => {
  const logger = new MemoryLogger();
  await pushHandler(logger)({ method: 'POST', body: {}, get: headers({ traceparent: '00-zz' }) }, response);
  t.is(logger.entries.length, 1);
  t.false(
    Object.keys(logger.entries[0]?.fields ?? {}).some((key) => key.startsWith('logging.googleapis.com/')),
  );
});
