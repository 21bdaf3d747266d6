import test from 'ava';
import { StreamBatcher } from '../../functions/core/relay/batcher.ts';
import type { SealedBatch } from '../../functions/core/contract/batch.ts';
import { decodeBatch } from '../../functions/core/contract/decode.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { trade } from '../support/ticks.ts';

const stream = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;
const limits = { maxTicks: 5, maxBytes: 1_000_000, maxWaitMs: 100, heartbeatMs: 1000 };

/** The ticks a sealed batch carries, as the writer will read them. */
const ticksOf = (batch: SealedBatch | undefined) => decodeBatch(batch!.message.data).batch.ticks;

/** A trade received at `ms` (relay receive time). */
const at = (n: number, ms: number) => trade(n, { localTs: ms * 1000 + 123 });

test('a batch is cut when it reaches the tick limit, up to the boundary', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  const batches: SealedBatch[] = [];
  for (let i = 0; i < 12; i++) {
    const ms = 1000 + i;
    const batch = b.add(at(i, ms), rowId(at(i, ms)), ms + 1, ms + 1);
    if (batch) batches.push(batch);
  }
  t.deepEqual(
    batches.map((x) => x.count),
    [5, 5],
  );
  t.deepEqual(
    batches.flatMap((x) => ticksOf(x).map((tick) => (tick.type === 'trade' ? tick.id : undefined))),
    Array.from({ length: 10 }, (_, i) => at(i, 1000 + i).id),
    'the message carries the ticks in order',
  );
  t.deepEqual(batches[0]!.window, { from: 1000, to: 1005 });
  t.deepEqual(batches[1]!.window, { from: 1005, to: 1010 });
  t.is(b.bufferedTicks, 2);
});

test('ticks received in the boundary millisecond wait for the next batch', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  for (let i = 0; i < 4; i++) b.add(at(i, 1000), 'x', 1000, 1000);
  // The fifth tick fills the batch, but everything was received in ms 1000 and the boundary is 1000:
  // more messages stamped 1000 may still come, so nothing can be claimed yet.
  t.is(b.add(at(4, 1000), 'x', 1000, 1000), undefined);
  t.is(b.add(at(5, 1000), 'x', 1000, 1000), undefined, 'no rescan while blocked in the same ms');
  const batch = b.add(at(6, 1001), 'x', 1001, 1001);
  t.deepEqual(batch?.window, { from: 1000, to: 1001 });
  t.is(batch?.count, 6);
  t.is(ticksOf(batch).length, 6);
  t.is(b.bufferedTicks, 1);
  const rest = b.close(1002);
  t.deepEqual(
    ticksOf(rest).map((tick) => tick.localTs),
    [at(6, 1001).localTs],
    'the tick left behind by the cut is the one that follows',
  );
});

test('a tick waits at most maxWaitMs and a quiet stream sends heartbeats', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  b.open(0);
  t.is(b.poll(999, 999), undefined);
  const heartbeat = b.poll(1000, 1000);
  t.deepEqual(heartbeat?.window, { from: 0, to: 1000 });
  t.is(heartbeat?.count, 0);
  t.is(ticksOf(heartbeat).length, 0);
  b.add(at(1, 1010), 'x', 1010, 1011);
  t.is(b.poll(1109, 1109), undefined);
  t.deepEqual(b.poll(1110, 1110)?.window, { from: 1000, to: 1110 });
});

test('no heartbeat is claimed past the evidence: a silent connection stops coverage advancing', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  b.open(0);
  // The exchange's last message was received at ms 400: the boundary stays at 401 however late it is.
  t.is(b.poll(5000, 401), undefined);
  t.is(b.poll(9000, 401), undefined);
  const closed = b.close(401);
  t.deepEqual(closed?.window, { from: 0, to: 401 });
});

test('consecutive windows tile the covered time and every tick lies inside its window', (t) => {
  const random = seededRandom(42);
  const b = new StreamBatcher(stream, 'r', limits);
  let now = 5000;
  let proof = 5000;
  let added = 0;
  b.open(now);
  const batches: SealedBatch[] = [];
  for (let i = 0; i < 2000; i++) {
    now += Math.floor(random() * 3);
    let batch: SealedBatch | undefined;
    if (random() < 0.6) {
      proof = now;
      const tick = at(i, now);
      added++;
      batch = b.add(tick, undefined, now, Math.min(now, proof + 1));
    } else {
      batch = b.poll(now, Math.min(now, proof + 1));
    }
    if (batch) batches.push(batch);
  }
  const last = b.close(Math.min(now + 1, proof + 1));
  if (last) batches.push(last);
  t.is(batches[0]!.window.from, 5000);
  for (let i = 1; i < batches.length; i++) t.is(batches[i]!.window.from, batches[i - 1]!.window.to);
  let seen = 0;
  for (const batch of batches) {
    const ticks = ticksOf(batch);
    t.is(ticks.length, batch.count);
    for (const tick of ticks) {
      const ms = Math.floor(tick.localTs / 1000);
      t.true(
        ms >= batch.window.from && ms < batch.window.to,
        `tick at ${ms} in ${JSON.stringify(batch.window)}`,
      );
      seen++;
    }
  }
  t.is(seen, added, 'every tick added is in exactly one batch');
  t.is(
    new Set(batches.flatMap((x) => ticksOf(x).map((tick) => (tick.type === 'trade' ? tick.id : '')))).size,
    added,
  );
  t.true(seen > 1000);
  t.false(b.isCovering);
});

test('closing keeps every buffered tick, even one past the boundary, and ends coverage', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  b.add(at(1, 2000), undefined, 2000, 2000);
  b.add(at(2, 2001), undefined, 2001, 2001);
  const batch = b.close(2001)!;
  t.deepEqual(batch.window, { from: 2000, to: 2001 });
  t.deepEqual(
    decodeBatch(batch.message.data).batch.rowIds,
    [rowId(at(1, 2000)), rowId(at(2, 2001))],
    'the tick of ms 2001 travels too, outside the claim',
  );
  t.false(b.isCovering);
});

test('a clock that steps back never puts a tick before its window', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  b.open(3000);
  b.add(at(1, 2990), 'x', 3000, 3000);
  const batch = b.close(3001)!;
  t.deepEqual(batch.window, { from: 3000, to: 3001 });
  t.is(batch.count, 1);
});

test('closing a stream that is not covering emits nothing', (t) => {
  const b = new StreamBatcher(stream, 'r', limits);
  t.is(b.close(10), undefined);
  t.is(b.poll(10_000, 10_000), undefined);
});
