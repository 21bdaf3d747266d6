import test, { type ExecutionContext } from 'ava';
import { Firestore } from '@google-cloud/firestore';
import { FirestoreCheckpointStore } from '../../functions/adapters/firestore/checkpoint-store.ts';
import { comparePosition } from '../../functions/core/writer/checkpoint.ts';
import { groupDocId, type CheckpointLayout } from '../../functions/core/writer/checkpoint-groups.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { systemClock, type Checkpoint, type CheckpointAdvance } from '../../functions/core/ports.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { encodeBatch, pushEnvelope, startWriterHarness, tradeBatch } from '../support/writer-harness.ts';

type Position = Pick<Checkpoint, 'lastTickTs' | 'lastTradeId' | 'coveredTo'>;

/**
 * Watches a checkpoint document and records every state it is seen in: a per-stream document, or (with
 * `symbol`) that symbol's entry of a group document.
 */
function watch(firestore: Firestore, collection: string, id: string, symbol?: string) {
  const seen: Position[] = [];
  const stop = firestore
    .collection(collection)
    .doc(id)
    .onSnapshot((snap) => {
      if (!snap.exists) return;
      const data = snap.data()!;
      const d = (symbol === undefined ? data : data.streams?.[symbol]) as Position | undefined;
      if (d === undefined) return;
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

async function concurrentAdvances(t: ExecutionContext, layout: CheckpointLayout): Promise<void> {
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
  const watcher =
    layout === 'per-stream'
      ? watch(observer, collection, 'binance:cpusdt:trade')
      : watch(observer, collection, groupDocId(stream), stream.symbol);
  const instances = clients.map(
    (db) =>
      new CheckpointCoalescer(
        new FirestoreCheckpointStore(db, collection, systemClock, layout),
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
    `${layout}: ${writes} writes (${failed} failed on contention and merged back) for ${submitted.length} ` +
      `advances from ${instances.length} instances; final flush ${flushMs} ms`,
  );
}

test('concurrent advances from several writer instances never move a per-stream checkpoint backwards', (t) =>
  concurrentAdvances(t, 'per-stream'));

// Grouped documents are written on the version an instance last saw: four instances conflict, re-read, merge.
test('concurrent advances from several writer instances never move a grouped checkpoint backwards', (t) =>
  concurrentAdvances(t, 'grouped'));

test('random out-of-order delivery to the writer never moves the checkpoint backwards (seeded)', async (t) => {
  const h = await startWriterHarness({ name: 'cporder', writerEnv: { CHECKPOINT_MIN_INTERVAL_MS: '50' } });
  t.teardown(() => h.stop());
  const symbol = 'cpordusdt';
  // The writer's default layout: the symbol's entry in its group document.
  const stream = { exchange: 'binance', symbol, type: 'trade' } as const;
  const watcher = watch(h.firestore, h.collection, groupDocId(stream), symbol);
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

test('grouped checkpoints: one document write carries many streams, and reads take the furthest of both layouts', async (t) => {
  const emulators = requireEmulators();
  const collection = uniqueName('checkpoints');
  const db = new Firestore({ projectId: emulators.projectId, host: emulators.firestore, ssl: false });
  t.teardown(async () => {
    for (const doc of await db.collection(collection).listDocuments()) await doc.delete();
    await db.terminate();
  });
  const grouped = new FirestoreCheckpointStore(db, collection, systemClock, 'grouped');
  const perStream = new FirestoreCheckpointStore(db, collection, systemClock, 'per-stream');
  const streams = Array.from({ length: 60 }, (_, i) => ({
    exchange: 'binance',
    symbol: `g${i}usdt`,
    type: 'trade' as const,
  }));
  const at = (n: number, stream: (typeof streams)[number]): CheckpointAdvance => ({
    stream,
    lastTickTs: 1_700_000_000_000_000 + n,
    lastTradeId: String(n),
    rows: 1,
    coveredTo: 1_700_000_000_000 + n,
    batchId: `b${n}`,
  });
  const coalescer = new CheckpointCoalescer(grouped, systemClock, silentLogger, 60_000);
  for (const stream of streams) coalescer.submit(at(10, stream));
  for (const stream of streams) coalescer.submit(at(20, stream));
  await coalescer.flush();
  const documents = new Set(streams.map((s) => grouped.docOf(s)));
  t.true(documents.size <= 4, `${documents.size} group documents`);
  t.true(coalescer.stats().writes <= 2 * documents.size, `${coalescer.stats().writes} writes for 60 streams`);
  const listed = await grouped.list();
  t.is(listed.length, streams.length);
  t.true(listed.every((c) => c.lastTradeId === '20' && c.committedRows === 2));
  // A per-stream document from a writer of the other layout (a rolling deploy): the furthest wins.
  const [ahead, behind] = [streams[0]!, streams[1]!];
  await perStream.advance(at(30, ahead));
  await perStream.advance(at(5, behind));
  t.like(await grouped.get(ahead), {
    lastTradeId: '30',
    coveredTo: at(30, ahead).coveredTo,
    committedRows: 3,
  });
  t.like(await perStream.get(behind), {
    lastTradeId: '20',
    coveredTo: at(20, behind).coveredTo,
    committedRows: 3,
  });
  const both = await perStream.list();
  t.is(both.length, streams.length, 'one checkpoint per stream, whichever documents hold it');
  t.is(both.find((c) => c.stream.symbol === ahead.symbol)?.lastTradeId, '30');
});

test('a grouped write over a version another instance has changed reads again and keeps both advances', async (t) => {
  const emulators = requireEmulators();
  const collection = uniqueName('checkpoints');
  const [a, b] = [0, 1].map(
    () => new Firestore({ projectId: emulators.projectId, host: emulators.firestore, ssl: false }),
  );
  t.teardown(async () => {
    for (const doc of await a!.collection(collection).listDocuments()) await doc.delete();
    await Promise.all([a!, b!].map((c) => c.terminate()));
  });
  const [storeA, storeB] = [a!, b!].map((db) => new FirestoreCheckpointStore(db, collection, systemClock));
  const at = (symbol: string, n: number): CheckpointAdvance => ({
    stream: { exchange: 'binance', symbol, type: 'trade' },
    lastTickTs: 1_764_000_000_000_000 + n * 1000,
    lastTradeId: String(n),
    rows: 1,
    coveredTo: 1_764_000_000_000 + n,
    batchId: `${symbol}-${n}`,
  });
  // Symbols are hashed into buckets: take two that share a group document.
  const symbols = ['gca', 'gcb', 'gcc', 'gcd', 'gce', 'gcf', 'gcg', 'gch'].map((s) => `${s}usdt`);
  const docOf = (s: string) => storeA!.docOf({ exchange: 'binance', symbol: s, type: 'trade' });
  const x = symbols[0]!;
  const y = symbols.find((s) => s !== x && docOf(s) === docOf(x));
  if (y === undefined) return t.fail('no two test symbols share a group document');
  await storeA!.advance(at(x, 1)); // A now knows the document's version
  await storeB!.advance(at(y, 5)); // B changes it
  await storeB!.advance(at(x, 3));
  await storeA!.advance(at(x, 2)); // A's known version is stale: its conditional write must fail and re-read
  const reader = new FirestoreCheckpointStore(b!, collection, systemClock);
  const [fx, fy] = await Promise.all([reader.get(at(x, 0).stream), reader.get(at(y, 0).stream)]);
  t.is(fx?.lastTradeId, '3', 'the furthest position of x stays');
  t.is(fx?.committedRows, 3, "every advance of x counted once, A's included");
  t.is(fy?.lastTradeId, '5', "B's advance of y is kept");
});
