import test from 'ava';
import { jsonLogger } from '../../functions/core/shared/logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return { lines, logger };
}

test('an ERROR entry with an error carries its stack where Error Reporting reads it', (t) => {
  const { lines, logger } = capture();
  const error = new Error('insert failed');
  logger.log('ERROR', 'warehouse setup failed', { error, table: 'trades' });
  const [entry] = lines;
  t.is(entry?.['stack_trace'], error.stack);
  t.true(String(entry?.['stack_trace']).startsWith('Error: insert failed\n    at '));
  t.deepEqual(entry?.['error'], { name: 'Error', message: 'insert failed' });
  t.is(entry?.['message'], 'warehouse setup failed');
  t.is(entry?.['table'], 'trades');
});

test('a CRITICAL entry carries the stack too', (t) => {
  const { lines, logger } = capture();
  logger.log('CRITICAL', 'down', { error: new TypeError('boom') });
  t.true(String(lines[0]?.['stack_trace']).startsWith('TypeError: boom\n'));
});

test('a WARNING entry with an error carries no stack, so Error Reporting does not report it', (t) => {
  const { lines, logger } = capture();
  logger.log('WARNING', 'retrying', { error: new Error('slow') });
  t.false('stack_trace' in (lines[0] ?? {}));
  t.deepEqual(lines[0]?.['error'], { name: 'Error', message: 'slow' });
});

test('an ERROR entry without an error carries no stack', (t) => {
  const { lines, logger } = capture();
  logger.log('ERROR', 'ticks lost', { error: 'a string, not an Error' });
  t.false('stack_trace' in (lines[0] ?? {}));
  t.is(lines[0]?.['error'], 'a string, not an Error');
});

test('a cause chain stays readable in the field and in the stack', (t) => {
  const { lines, logger } = capture();
  const root = new RangeError('socket hang up');
  const middle = new Error('insertAll failed', { cause: root });
  const error = new Error('delivery not durable', { cause: middle });
  logger.log('ERROR', 'run failed', { error });
  t.deepEqual(lines[0]?.['error'], {
    name: 'Error',
    message: 'delivery not durable',
    cause: {
      name: 'Error',
      message: 'insertAll failed',
      cause: { name: 'RangeError', message: 'socket hang up' },
    },
  });
  const stack = String(lines[0]?.['stack_trace']);
  t.true(stack.startsWith('Error: delivery not durable\n'));
  t.true(stack.includes('\nCaused by: Error: insertAll failed\n'));
  t.true(stack.includes('\nCaused by: RangeError: socket hang up\n'));
});

test('a cause that is not an Error is logged as text', (t) => {
  const { lines, logger } = capture();
  logger.log('ERROR', 'failed', { error: new Error('outer', { cause: 503 }) });
  t.deepEqual(lines[0]?.['error'], { name: 'Error', message: 'outer', cause: '503' });
  t.true(String(lines[0]?.['stack_trace']).endsWith('\nCaused by: 503'));
});

test('a cyclic cause chain is cut, never followed forever', (t) => {
  const { lines, logger } = capture();
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  Object.assign(a, { cause: b });
  logger.log('ERROR', 'cycle', { error: a });
  t.is(String(lines[0]?.['stack_trace']).split('Caused by:').length - 1, 5);
  t.regex(JSON.stringify(lines[0]?.['error']), /cause chain truncated/);
});

test('a child logger keeps its fields on every line', (t) => {
  const { lines, logger } = capture();
  logger.child({ component: 'writer' }).child({ requestId: 'r1' }).log('INFO', 'hello');
  t.is(lines[0]?.['component'], 'writer');
  t.is(lines[0]?.['requestId'], 'r1');
});
