import test from 'ava';
import { StreamBatcher } from '../../functions/core/batcher.ts';
import { rowId } from '../../functions/core/row-id.ts';
import { seededRandom } from '../support/fakes.ts';
import { trade } from '../support/ticks.ts';

const stream = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;
const limits = { maxTicks: 5, maxBytes: 1_000_000, maxWaitMs: 100, heartbeatMs: 1000 };

test('a batch is cut when it reaches the tick limit', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  const batches = [];
  for (let i = 0; i < 12; i++) {
    const batch = b.add(trade(i), rowId(trade(i)), 1000 + i);
    if (batch) batches.push(batch);
  }
  t.deepEqual(
    batches.map((x) => x.ticks.length),
    [5, 5],
  );
  t.is(b.bufferedTicks, 2);
});

test('a tick waits at most maxWaitMs and a quiet stream sends heartbeats', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  b.open(0);
  t.is(b.poll(999), undefined);
  const heartbeat = b.poll(1000);
  t.deepEqual(heartbeat?.window, { from: 0, to: 1000 });
  t.is(heartbeat?.ticks.length, 0);
  b.add(trade(1), 'x', 1010);
  t.is(b.poll(1109), undefined);
  t.is(b.poll(1110)?.ticks.length, 1);
});

test('consecutive windows tile the covered time with no gap or overlap', (t) => {
  const random = seededRandom(42);
  const b = new StreamBatcher(stream, 'r', limits);
  let now = 5000;
  b.open(now);
  const windows = [];
  for (let i = 0; i < 500; i++) {
    now += Math.floor(random() * 40);
    const tick = trade(i, { localTs: now * 1000 });
    const batch = random() < 0.5 ? b.add(tick, rowId(tick), now) : b.poll(now);
    if (batch) windows.push(batch.window);
  }
  const last = b.close(now + 1);
  if (last) windows.push(last.window);
  for (let i = 1; i < windows.length; i++) t.is(windows[i]!.from, windows[i - 1]!.to);
  t.is(windows[0]!.from, 5000);
  t.false(b.isCovering);
});

test('every tick lies inside the window of its batch', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  const tick = trade(1, { localTs: 2_000_999 }); // received at ms 2000.999
  b.add(tick, 'x', 2000);
  const batch = b.close(2000)!;
  t.true(batch.window.from <= 2000 && batch.window.to > 2000);
});

test('closing a stream that is not covering emits nothing', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  t.is(b.close(10), undefined);
  t.is(b.poll(10_000), undefined);
});
