import test from 'ava';
import { comparePosition } from '../../functions/core/writer/checkpoint.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import {
  systemClock,
  type Checkpoint,
  type CheckpointAdvance,
  type CheckpointStore,
} from '../../functions/core/ports.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { createWriter } from '../../functions/core/writer/writer.ts';
import { MemoryCheckpointStore, storeWithAdvance } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryWarehouse } from '../support/doubles/warehouse.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { trade } from '../support/ticks.ts';

const stream = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;

const advance = (n: number): CheckpointAdvance => ({
  stream,
  lastTickTs: 1_700_000_000_000_000 + Math.floor(n / 3) * 1000, // several trades share a timestamp
  lastTradeId: String(n),
  rows: 1,
  coveredTo: 1_700_000_000_000 + n,
  batchId: `b${n}`,
});

/** A store shared by several "instances": every write is checked against the one before it. */
function watchedStore(random: () => number, failRate: number) {
  const inner = new MemoryCheckpointStore();
  const history: Checkpoint[] = [];
  const store: CheckpointStore = storeWithAdvance(inner, async (a) => {
    await new Promise((r) => setTimeout(r, Math.floor(random() * 3)));
    if (random() < failRate) throw new Error('contention');
    const merged = await inner.advance(a);
    history.push(merged);
    return merged;
  });
  return { store, history, inner };
}

function assertMonotonic(t: import('ava').ExecutionContext, history: readonly Checkpoint[]): void {
  for (let i = 1; i < history.length; i++) {
    const [a, b] = [history[i - 1]!, history[i]!];
    const forward = comparePosition(
      { ts: b.lastTickTs, tradeId: b.lastTradeId },
      { ts: a.lastTickTs, tradeId: a.lastTradeId },
    );
    if (forward < 0 || b.coveredTo < a.coveredTo) {
      t.fail(`checkpoint moved backwards at write ${i}: ${a.lastTradeId} -> ${b.lastTradeId}`);
      return;
    }
  }
}

test('checkpoints advanced by several coalescers out of order, repeatedly and with failures never move backwards', async (t) => {
  for (let seed = 1; seed <= 25; seed++) {
    const random = seededRandom(seed);
    const { store, history, inner } = watchedStore(random, 0.2);
    const instances = Array.from(
      { length: 1 + Math.floor(random() * 4) },
      () => new CheckpointCoalescer(store, systemClock, silentLogger, Math.floor(random() * 3)),
    );
    const submitted = Array.from({ length: 150 }, () => Math.floor(random() * 500));
    for (const n of submitted) {
      instances[Math.floor(random() * instances.length)]!.submit(advance(n));
      if (random() < 0.2) await new Promise((r) => setTimeout(r, 1));
    }
    for (let round = 0; round < 20 && instances.some((c) => c.pendingStreams > 0); round++) {
      await Promise.all(instances.map((c) => c.flush()));
    }
    assertMonotonic(t, history);
    const final = await inner.get(stream);
    const max = Math.max(...submitted);
    t.is(final?.lastTradeId, String(max), `seed ${seed}`);
    t.is(final?.coveredTo, advance(max).coveredTo);
    t.is(final?.committedRows, submitted.length, 'a failed write is merged back, never lost');
  }
});

test('deliveries through the writer in random order with repeats leave the checkpoint at the newest tick', async (t) => {
  for (let seed = 100; seed < 110; seed++) {
    const random = seededRandom(seed);
    const clock = new ManualClock(Date.UTC(2026, 0, 2));
    const { store, history, inner } = watchedStore(random, 0.1);
    const coalescers = Array.from(
      { length: 3 },
      () => new CheckpointCoalescer(store, clock, silentLogger, 0),
    );
    const writers = coalescers.map((checkpoints) =>
      createWriter({ warehouse: new MemoryWarehouse(), checkpoints, clock, logger: silentLogger }),
    );
    const batches = Array.from({ length: 30 }, (_, seq) => {
      const ticks = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, k) => trade(seq * 10 + k));
      const message = encodeBatch({
        stream,
        relayId: 'relay-a',
        seq,
        window: { from: clock.now() - 60_000 + seq * 100, to: clock.now() - 60_000 + seq * 100 + 100 },
        ticks,
        rowIds: ticks.map(rowId),
      });
      return {
        body: { message: { data: message.data.toString('base64'), messageId: `m${seq}` }, subscription: 's' },
        last: ticks.at(-1)!,
      };
    });
    const deliveries = [...batches, ...batches.filter(() => random() < 0.3)].sort(() => random() - 0.5);
    await Promise.all(
      deliveries.map(async (d, i) => {
        await new Promise((r) => setTimeout(r, Math.floor(random() * 5)));
        const result = await writers[i % writers.length]!.handle(d.body);
        t.is(result.status, 200);
      }),
    );
    for (let round = 0; round < 20 && coalescers.some((c) => c.pendingStreams > 0); round++) {
      await Promise.all(coalescers.map((c) => c.flush()));
    }
    assertMonotonic(t, history);
    const newest = batches.at(-1)!.last;
    t.is((await inner.get(stream))?.lastTradeId, newest.id, `seed ${seed}`);
  }
});

test('a coalescer writes one document at most once per interval however many advances arrive', async (t) => {
  const store = new MemoryCheckpointStore();
  const coalescer = new CheckpointCoalescer(store, systemClock, silentLogger, 50);
  const started = Date.now();
  const n = 100;
  for (let i = 0; i < n; i++) {
    coalescer.submit(advance(i));
    await new Promise((r) => setTimeout(r, 4));
  }
  await coalescer.flush();
  const elapsed = Date.now() - started;
  t.true(store.writes <= Math.ceil(elapsed / 50) + 2, `${store.writes} writes in ${elapsed} ms`);
  t.is((await store.get(stream))?.committedRows, n);
  t.is(coalescer.stats().checkpointAgeMs, 0);
});

test('the checkpoint age grows while a write keeps failing and resets once it succeeds', async (t) => {
  const clock = new ManualClock(0);
  const inner = new MemoryCheckpointStore(clock);
  let failing = true;
  const store: CheckpointStore = storeWithAdvance(inner, async (a) => {
    if (failing) throw new Error('unavailable');
    return inner.advance(a);
  });
  const coalescer = new CheckpointCoalescer(store, clock, silentLogger, 1000);
  coalescer.submit(advance(1));
  await coalescer.flush();
  clock.advance(5000);
  t.is(coalescer.stats().checkpointAgeMs, 5000);
  t.is(coalescer.stats().failedWrites >= 1, true);
  failing = false;
  await coalescer.flush();
  t.is(coalescer.stats().checkpointAgeMs, 0);
  t.is((await inner.get(stream))?.lastTradeId, '1');
});
