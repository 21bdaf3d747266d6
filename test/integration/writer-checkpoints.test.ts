import test from 'ava';
import { Firestore } from '@google-cloud/firestore';
import { FirestoreCheckpointStore } from '../../functions/adapters/firestore/checkpoint-store.ts';
import { comparePosition } from '../../functions/core/writer/checkpoint.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { systemClock, type Checkpoint, type CheckpointAdvance } from '../../functions/core/ports.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { encodeBatch, pushEnvelope, startWriterHarness, tradeBatch } from '../support/writer-harness.ts';

type Position = Pick<Checkpoint, 'lastTickTs' | 'lastTradeId' | 'coveredTo'>;

/** Watches a checkpoint document and records every state it is seen in. */
function watch(firestore: Firestore, collection: string, id: string) {
  const seen: Position[] = [];
  const stop = firestore
    .collection(collection)
    .doc(id)
    .onSnapshot((snap) => {
      if (!snap.exists) return;
      const d = snap.data() as Position;
      seen.push({ lastTickTs: d.lastTickTs, lastTradeId: d.lastTradeId, coveredTo: d.coveredTo });
    });
  return { seen, stop };
}

function backwards(seen: readonly Position[]): string | undefined {
  for (let i = 1; i < seen.length; i++) {
    const [a, b] = [seen[i - 1]!, seen[i]!];
    const order = comparePosition(
      { ts: b.lastTickTs, tradeId: b.lastTradeId },
      { ts: a.lastTickTs, tradeId: a.lastTradeId },
    );
    if (order < 0 || b.coveredTo < a.coveredTo) return `state ${i}: ${a.lastTradeId} -> ${b.lastTradeId}`;
  }
  return undefined;
}

test('concurrent advances from several writer instances never move a Firestore checkpoint backwards', async (t) => {
  const emulators = requireEmulators();
  const collection = uniqueName('checkpoints');
  // Each "instance" has its own Firestore client, store and coalescer, as separate writer processes would.
  const clients = Array.from(
    { length: 4 },
    () => new Firestore({ projectId: emulators.projectId, host: emulators.firestore, ssl: false }),
  );
  const observer = new Firestore({ projectId: emulators.projectId, host: emulators.firestore, ssl: false });
  t.teardown(async () => {
    for (const doc of await observer.collection(collection).listDocuments()) await doc.delete();
    await Promise.all([...clients, observer].map((c) => c.terminate()));
  });
  const stream = { exchange: 'binance', symbol: 'cpusdt', type: 'trade' } as const;
  const watcher = watch(observer, collection, 'binance:cpusdt:trade');
  const instances = clients.map(
    (db) =>
      new CheckpointCoalescer(
        new FirestoreCheckpointStore(db, collection, systemClock),
        systemClock,
        silentLogger,
        100,
      ),
  );
  const random = seededRandom(4242);
  const advance = (n: number): CheckpointAdvance => ({
    stream,
    lastTickTs: 1_764_000_000_000_000 + Math.floor(n / 2) * 1000,
    lastTradeId: String(n),
    rows: 1,
    coveredTo: 1_764_000_000_000 + n,
    batchId: `b${n}`,
  });
  // Out of order and repeated: 300 advances of trades 0..199 spread over the instances for ~1.5 s.
  const submitted: number[] = [];
  for (let i = 0; i < 300; i++) {
    const n = Math.floor(random() * 200);
    submitted.push(n);
    instances[Math.floor(random() * instances.length)]!.submit(advance(n));
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 50));
  }
  const flushStarted = Date.now();
  for (let round = 0; round < 30 && instances.some((c) => c.pendingStreams > 0); round++) {
    await Promise.all(instances.map((c) => c.flush()));
  }
  const flushMs = Date.now() - flushStarted;
  const store = new FirestoreCheckpointStore(observer, collection, systemClock);
  const final = await store.get(stream);
  const max = Math.max(...submitted);
  t.is(final?.lastTradeId, String(max));
  t.is(final?.coveredTo, advance(max).coveredTo);
  t.is(final?.committedRows, submitted.length, 'every advance counted once (merged, never lost)');
  await new Promise((r) => setTimeout(r, 200));
  watcher.stop();
  t.true(watcher.seen.length >= 2, `${watcher.seen.length} states observed`);
  t.is(backwards(watcher.seen), undefined);
  const writes = instances.reduce((n, c) => n + c.stats().writes, 0);
  t.true(writes < submitted.length / 3, `${writes} Firestore writes for ${submitted.length} advances`);
  const failed = instances.reduce((n, c) => n + c.stats().failedWrites, 0);
  t.log(
    `${writes} transactions (${failed} failed on contention and merged back) for ${submitted.length} advances ` +
      `from ${instances.length} instances; final flush ${flushMs} ms`,
  );
});

test('random out-of-order delivery to the writer never moves the checkpoint backwards (seeded)', async (t) => {
  const h = await startWriterHarness({ name: 'cporder', writerEnv: { CHECKPOINT_MIN_INTERVAL_MS: '50' } });
  t.teardown(() => h.stop());
  const symbol = 'cpordusdt';
  const watcher = watch(h.firestore, h.collection, `binance:${symbol}:trade`);
  const random = seededRandom(77);
  const now = Date.now();
  const batches = Array.from({ length: 120 }, (_, seq) => tradeBatch(symbol, seq, seq * 10 + 1, 10, { now }));
  // Every batch once plus a third of them again, shuffled, 8 at a time.
  const deliveries = [...batches, ...batches.filter(() => random() < 0.33)]
    .map((b, i) => ({ body: pushEnvelope(encodeBatch(b), `cp-${i}`), key: random() }))
    .sort((a, b) => a.key - b.key);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < deliveries.length) {
        const reply = await h.post(deliveries[next++]!.body);
        t.is(reply.status, 200);
      }
    }),
  );
  const last = batches.at(-1)!;
  const lastId = (last.ticks.at(-1) as TradeTick).id;
  const deadline = Date.now() + 10_000;
  let cp = await h.checkpoints.get(last.stream);
  while (cp?.lastTradeId !== lastId && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    cp = await h.checkpoints.get(last.stream);
  }
  watcher.stop();
  t.is(cp?.lastTradeId, lastId);
  t.is(cp?.coveredTo, last.window.to);
  t.true(watcher.seen.length >= 3, `${watcher.seen.length} states observed`);
  t.is(backwards(watcher.seen), undefined);
  t.log(
    `${deliveries.length} deliveries in random order; checkpoint observed in ${watcher.seen.length} states`,
  );
});
