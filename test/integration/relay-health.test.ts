import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Firestore, Timestamp } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { FirestoreCheckpointStore } from '../../functions/adapters/firestore/checkpoint-store.ts';
import { FirestoreGapLedger } from '../../functions/adapters/firestore/gap-ledger.ts';
import { systemClock } from '../../functions/core/ports.ts';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import { BatchCollector, logsWith, startRelay, type RelayHandle } from '../support/relay.ts';

/** Polls `probe` until it holds (health endpoints and Firestore documents have no change events here). */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await sleep(100);
  }
}

const status = (relay: RelayHandle, path: '/healthz' | '/readyz', want: number) => () =>
  relay.probe(path).then((r) => (r.status === want ? r : undefined));

test('readiness waits for the subscription; health, heartbeat document and startup gap tell the truth', async (t) => {
  const emulators = requireEmulators();
  const sim = await startSimulator({ seed: 71, ratePerSymbol: 100, symbols: ['btcusdt', 'ethusdt'] });
  t.teardown(() => sim.stop());
  const firestore = new Firestore({ projectId: emulators.projectId, host: emulators.firestore, ssl: false });
  t.teardown(() => firestore.terminate());
  const pubsub = new PubSub({
    projectId: emulators.projectId,
    apiEndpoint: emulators.pubsub,
    emulatorMode: true,
  });
  t.teardown(() => pubsub.close());
  const collections = { cp: uniqueName('cp'), gaps: uniqueName('gaps'), hb: uniqueName('hb') };
  const topic = uniqueName('relay_health');
  const collector = await BatchCollector.start(pubsub, topic, `${topic}_pull`);
  t.teardown(() => collector.stop());

  // A previous relay recorded btcusdt trades up to a minute ago; ethusdt has never been recorded.
  const coveredTo = Date.now() - 60_000;
  const btc = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;
  await new FirestoreCheckpointStore(firestore, collections.cp, systemClock).advance({
    stream: btc,
    lastTickTs: (coveredTo - 5) * 1000,
    lastTradeId: '41',
    rows: 10,
    coveredTo,
    batchId: 'relay-old/binance:btcusdt:trade/9',
  });

  // The exchange refuses connections at first: the relay is up but not subscribed.
  sim.refuse(600_000);
  const relay = await startRelay(
    'relay-health',
    {
      streams: 'binance:btcusdt,ethusdt:trade',
      topic,
      pubsubHost: emulators.pubsub,
      firestoreHost: emulators.firestore,
      projectId: emulators.projectId,
      extra: {
        WSS_URL_BINANCE: sim.wsUrl,
        CHECKPOINTS_COLLECTION: collections.cp,
        GAPS_COLLECTION: collections.gaps,
        HEARTBEATS_COLLECTION: collections.hb,
        RELAY_HEARTBEAT_INTERVAL_MS: '1000',
        RELAY_METRICS_INTERVAL_MS: '1000',
        RELAY_HEALTH_STALE_MS: '3000',
        RELAY_STALE_TIMEOUT_MS: '60000',
        RELAY_STARTUP_GAP_GRACE_MS: '500',
      },
    },
    { waitReady: false },
  );
  t.teardown(() => relay.service.kill());

  t.truthy(await eventually(async () => (sim.stats().refused >= 1 ? true : undefined), 30_000), 'refused');
  const notReady = await relay.probe('/readyz');
  t.is(notReady.status, 503, 'not ready before the subscription is proven');
  t.true((notReady.body.reasons as string[]).some((r) => /binance:btcusdt:trade: not subscribed/.test(r)));
  sim.clear();
  const ready = await eventually(status(relay, '/readyz', 200), 30_000);
  t.truthy(ready, 'ready once data flows');

  // Startup recovery: the minute since the old checkpoint is a gap, detected by relay_startup.
  const ledger = new FirestoreGapLedger(firestore, collections.gaps);
  const gaps = await eventually(async () => {
    const list = await ledger.list();
    return list.length > 0 ? list : undefined;
  }, 15_000);
  t.is(gaps?.length, 1, 'one gap, for the stream with an old checkpoint only');
  const gap = gaps![0]!;
  t.like(gap, { stream: btc, from: coveredTo, detectedBy: 'relay_startup', state: 'open' });
  await collector.until((all) => all.some((b) => b.stream.symbol === 'btcusdt'), 10_000);
  const firstWindow = collector.of('binance:btcusdt:trade')[0]!.window.from;
  t.is(gap.to, firstWindow, 'the gap ends where the relay began covering');

  // The liveness record: refreshed every second, with a TTL field.
  const heartbeats = firestore.collection(collections.hb);
  const doc = await eventually(async () => {
    const snap = await heartbeats.get();
    const data = snap.docs[0]?.data();
    return data && data.ready === true ? data : undefined;
  }, 10_000);
  t.truthy(doc, 'heartbeat document written');
  t.true(doc!.expireAt instanceof Timestamp, 'expireAt is a Firestore Timestamp (TTL policy field)');
  t.true(doc!.expireAt.toMillis() > Date.now());
  t.deepEqual(
    (doc!.streams as { stream: string }[]).map((s) => s.stream),
    ['binance:btcusdt:trade', 'binance:ethusdt:trade'],
  );
  t.true(doc!.counters.ticksIn > 0 && typeof doc!.lastPublishAt === 'number');
  const later = await eventually(async () => {
    const data = (await heartbeats.doc(String(doc!.relayId)).get()).data();
    return data && data.updatedAt > doc!.updatedAt ? data : undefined;
  }, 10_000);
  t.truthy(later, 'heartbeat refreshed');

  // A silent exchange socket: coverage stops at the last message, /healthz turns 503 past the threshold.
  t.is((await relay.probe('/healthz')).status, 200);
  sim.stall(600_000, 'drop');
  const stale = await eventually(status(relay, '/healthz', 503), 15_000);
  t.truthy(stale, 'unhealthy when a stream is stale');
  t.true(
    (stale!.body.reasons as string[]).some((r) =>
      /binance:btcusdt:trade: recorded only up to \d+ ms ago/.test(r),
    ),
  );
  const streams = stale!.body.streams as { stream: string; coverageLagMs: number; freshnessLagMs: number }[];
  t.true(streams.every((s) => s.coverageLagMs > 3000 && s.freshnessLagMs > 3000));
  sim.clear();
  t.truthy(await eventually(status(relay, '/healthz', 200), 15_000), 'healthy again when data flows');

  const metrics = logsWith(relay.logs(), 'relay metrics').at(-1) as Record<string, unknown> | undefined;
  t.truthy(metrics, 'periodic metrics line');
  t.like(metrics, { severity: 'INFO' });
  for (const key of [
    'ticksInPerS',
    'batchesOutPerS',
    'publishLatencyMs',
    'bufferedBytes',
    'memory',
    'streams',
  ]) {
    t.true(key in metrics!, `metrics line has ${key}`);
  }
  t.is(await relay.service.terminate(), 0);
});
