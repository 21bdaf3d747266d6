import test from 'ava';
import { comparePosition, mergeCheckpoint } from '../../functions/core/writer/checkpoint.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import type { Checkpoint, CheckpointAdvance } from '../../functions/core/ports.ts';
import { MemoryCheckpointStore, storeWithAdvance } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';

const stream = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;
const adv = (n: number, rows = 1): CheckpointAdvance => ({
  stream,
  lastTickTs: 1_000_000 + n * 10,
  lastTradeId: String(n),
  rows,
  coveredTo: 5000 + n,
  batchId: `b${n}`,
});

test('trade ids compare numerically, not as text', (t) => {
  t.true(comparePosition({ ts: 1, tradeId: '10' }, { ts: 1, tradeId: '9' }) > 0);
  t.true(comparePosition({ ts: 2, tradeId: '1' }, { ts: 1, tradeId: '9' }) > 0);
});

test('a checkpoint never moves backwards under random out-of-order repeated delivery', (t) => {
  for (let seed = 1; seed <= 50; seed++) {
    const random = seededRandom(seed);
    const deliveries = Array.from({ length: 200 }, () => Math.floor(random() * 100));
    let cp: Checkpoint | undefined;
    let maxSeen = -1;
    for (const n of deliveries) {
      const before = cp;
      cp = mergeCheckpoint(cp, adv(n), 0);
      maxSeen = Math.max(maxSeen, n);
      if (before) {
        t.true(cp.lastTickTs >= before.lastTickTs);
        t.true(cp.coveredTo >= before.coveredTo);
      }
      t.is(cp.lastTradeId, String(maxSeen));
    }
    t.is(cp!.committedRows, deliveries.length);
  }
});

test('an empty heartbeat advance moves coverage but keeps the last tick', (t) => {
  const cp = mergeCheckpoint(undefined, adv(5), 0);
  const after = mergeCheckpoint(cp, { ...adv(6, 0), lastTickTs: null, lastTradeId: null }, 0);
  t.is(after.lastTradeId, '5');
  t.is(after.coveredTo, 5006);
});

test('the coalescer writes a stream at most once per interval and keeps the furthest position', async (t) => {
  const clock = new ManualClock(0);
  const store = new MemoryCheckpointStore(clock);
  const coalescer = new CheckpointCoalescer(store, clock, silentLogger, 1000);
  coalescer.submit(adv(1));
  coalescer.submit(adv(3));
  coalescer.submit(adv(2));
  await coalescer.flush();
  t.is(store.writes, 2); // the first at once, the rest merged into one
  const cp = await store.get(stream);
  t.is(cp?.lastTradeId, '3');
  t.is(cp?.committedRows, 3);
});

test('a failed checkpoint write is merged back and retried', async (t) => {
  const clock = new ManualClock(0);
  const store = new MemoryCheckpointStore(clock);
  let fail = true;
  const flaky = storeWithAdvance(store, async (a: CheckpointAdvance) => {
    if (fail) {
      fail = false;
      throw new Error('unavailable');
    }
    return store.advance(a);
  });
  const coalescer = new CheckpointCoalescer(flaky, clock, silentLogger, 0);
  coalescer.submit(adv(4));
  await coalescer.flush();
  t.is((await store.get(stream))?.lastTradeId, '4');
});
