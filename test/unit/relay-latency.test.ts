import test from 'ava';
import { LatencyWindow } from '../../functions/core/shared/latency-window.ts';

test('an empty latency window reports nulls as raw figures and zeros as a summary', (t) => {
  const window = new LatencyWindow();
  t.is(window.count, 0);
  t.is(window.max, null);
  t.is(window.quantile(0.5), null);
  t.deepEqual(window.summary(), { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
  t.deepEqual(window.quick(), { count: 0, meanMs: 0, maxMs: 0 });
});

test('percentiles are nearest-rank over the sample; the summary rounds to 0.1 ms', (t) => {
  const window = new LatencyWindow();
  for (const ms of [4.04, 1.01, 3.03, 2.02]) window.record(ms);
  t.is(window.quantile(0.5), 3.03);
  t.is(window.quantile(0.99), 4.04);
  t.is(window.max, 4.04);
  t.deepEqual(window.summary(), { count: 4, meanMs: 2.5, p50Ms: 3, p99Ms: 4, maxMs: 4 });
});

test('only the first `capacity` latencies are sampled, but count and max see every one', (t) => {
  const window = new LatencyWindow(2);
  for (const ms of [1, 2, 50]) window.record(ms);
  t.is(window.count, 3);
  t.is(window.max, 50);
  t.is(window.quantile(0.99), 2);
  window.reset();
  t.is(window.count, 0);
  t.is(window.quantile(0.5), null);
});
