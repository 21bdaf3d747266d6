import test from 'ava';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { setTimeout as sleep } from 'node:timers/promises';
import { FirestoreFleetStore } from '../../functions/adapters/firestore/fleet-store.ts';
import type { MemberRecord } from '../../functions/core/fleet/store.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import type { IdRange } from '../../scripts/local/exchange/ground-truth.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import { BatchCollector, logsWith, mergedWindows, startRelay, type RelayHandle } from '../support/relay.ts';

const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt'];
const STREAMS = `binance:${SYMBOLS.join(',')}:trade,book_ticker`;
const LEASE_MS = 2_000;
const RENEW_MS = 400;

function ids(ranges: readonly IdRange[]): number[] {
  return ranges.flatMap((r) => Array.from({ length: r.lastId - r.firstId + 1 }, (_, i) => r.firstId + i));
}

/** Every shard has a primary confirmed by its heartbeat and a standby whose buffer covers. */
function settled(members: readonly MemberRecord[], shardCount: number): Map<string, string> | undefined {
  const primaries = new Map<string, string>();
  const standbys = new Set<string>();
  for (const m of members) {
    for (const [shard, r] of Object.entries(m.shards)) {
      if (r.role === 'primary') primaries.set(shard, m.memberId);
      if (r.role === 'standby' && r.bufferFrom !== null) standbys.add(shard);
    }
  }
  const ok = primaries.size === shardCount && [...primaries.keys()].every((s) => standbys.has(s));
  return ok ? primaries : undefined;
}

test('SIGKILL of a primary: its standby takes over within the lease and replays from publishedTo, no trade missing', async (t) => {
  const emulators = requireEmulators();
  const sim = await startSimulator({ seed: 83, ratePerSymbol: 100, symbols: SYMBOLS });
  t.teardown(() => sim.stop());
  const pubsub = new PubSub({
    projectId: emulators.projectId,
    apiEndpoint: emulators.pubsub,
    emulatorMode: true,
  });
  t.teardown(() => pubsub.close());
  const firestore = new Firestore({ projectId: emulators.projectId, host: emulators.firestore, ssl: false });
  t.teardown(() => firestore.terminate());
  const topic = uniqueName('fleet_takeover');
  const collector = await BatchCollector.start(pubsub, topic, `${topic}_pull`);
  t.teardown(() => collector.stop());
  const collections = { members: uniqueName('members'), shards: uniqueName('shards') };
  const store = new FirestoreFleetStore(firestore, collections.members, collections.shards);
  const extra = {
    ...sim.relayEnv,
    WSS_URL_BINANCE: sim.wsUrl,
    REST_URL_BINANCE: sim.restUrl,
    RELAY_FLEET: 'on',
    RELAY_FLEET_LEASE_MS: String(LEASE_MS),
    RELAY_FLEET_RENEW_MS: String(RENEW_MS),
    RELAY_FLEET_MIN_SHARDS: '2',
    MEMBERS_COLLECTION: collections.members,
    SHARDS_COLLECTION: collections.shards,
    CHECKPOINTS_COLLECTION: uniqueName('cp'),
    GAPS_COLLECTION: uniqueName('gaps'),
    HEARTBEATS_COLLECTION: uniqueName('hb'),
  };
  const relays = new Map<string, RelayHandle>();
  for (const name of ['a', 'b']) {
    const id = uniqueName(`fleet_${name}`);
    const relay = await startRelay(`fleet-${name}`, {
      streams: STREAMS,
      topic,
      pubsubHost: emulators.pubsub,
      firestoreHost: emulators.firestore,
      projectId: emulators.projectId,
      extra: { ...extra, RELAY_ID: id },
    });
    t.teardown(() => relay.service.kill());
    relays.set(id, relay);
  }

  // Both members hold a replica of both shards; one publishes each, the other buffers. Wait until that
  // stays so for a while (the preferred primaries take their shards back from the first member).
  let primaries: Map<string, string> | undefined;
  let stableSince = Date.now();
  for (const deadline = Date.now() + 40_000; Date.now() < deadline; await sleep(200)) {
    const now = settled(await store.readMembers(), 2);
    const same =
      now !== undefined && primaries !== undefined && [...now].every(([s, m]) => primaries!.get(s) === m);
    if (!same) stableSince = Date.now();
    primaries = now;
    if (primaries && Date.now() - stableSince >= 2 * LEASE_MS) break;
  }
  t.truthy(primaries, 'every shard has a primary and a covering standby');
  const [killedShard, victim] = [...primaries!][0]!;
  const survivorId = [...relays.keys()].find((id) => id !== victim)!;
  const survivor = relays.get(survivorId)!;
  await relays.get(victim)!.service.kill();
  const killedAt = Date.now();

  let takeover: Record<string, unknown> | undefined;
  for (const deadline = killedAt + 15_000; !takeover && Date.now() < deadline; await sleep(100)) {
    takeover = logsWith(survivor.logs(), 'fleet take-over').find(
      (l) => l.shard === killedShard && Date.parse(String(l.time)) >= killedAt,
    );
  }
  t.truthy(takeover, `the survivor took ${killedShard} over`);
  const rtoMs = Date.parse(String(takeover!.time)) - killedAt;
  t.log(`take-over ${rtoMs} ms after SIGKILL (lease ${LEASE_MS} ms, renewal ${RENEW_MS} ms)`, takeover);
  t.true(rtoMs < LEASE_MS + 3 * RENEW_MS + 1_000, `RTO ${rtoMs} ms`);
  t.true(
    typeof takeover!.replayFrom === 'number' && Number(takeover!.replayed) > 0,
    'replayed from publishedTo',
  );
  t.is(logsWith(survivor.logs(), 'fleet take-over could not replay from the old publishedTo').length, 0);

  // Live a little longer, then freeze the market and drain the survivor: all it received arrives.
  await sleep(1_500);
  sim.stall(600_000, 'drop');
  t.is(await survivor.service.terminate(), 0, 'graceful exit');
  const stopped = logsWith(survivor.logs(), 'relay stopped')[0] as { counters: { batchesOut: number } };
  const own = (all: readonly { relayId: string; attributes: Record<string, string> }[]) =>
    new Set(all.filter((b) => b.relayId === survivorId).map((b) => b.attributes.batch)).size;
  t.true(await collector.until((all) => own(all) >= stopped.counters.batchesOut, 20_000), 'all pulled');

  for (const symbol of SYMBOLS) {
    const published = new Set(
      collector
        .of(`binance:${symbol}:trade`)
        .flatMap((b) => (b.ticks as TradeTick[]).map((x) => Number(x.id))),
    );
    // From the first trade published on (before it, a shard's connection may not have subscribed yet).
    const first = Math.min(...published);
    const sent = ids(sim.sentTrades(symbol)).filter((id) => id >= first);
    t.true(sent.length > 300, `${symbol}: ${sent.length} trades sent`);
    t.deepEqual(
      sent.filter((id) => !published.has(id)),
      [],
      `${symbol}: every trade sent was published by one relay or the other`,
    );
    for (const type of ['trade', 'book_ticker']) {
      const windows = mergedWindows(collector.of(`binance:${symbol}:${type}`));
      t.is(windows.length, 1, `${symbol}:${type}: coverage without a hole ${JSON.stringify(windows)}`);
    }
  }
});
