import test, { type ExecutionContext } from 'ava';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { setTimeout as sleep } from 'node:timers/promises';
import { FirestoreFleetStore } from '../../functions/adapters/firestore/fleet-store.ts';
import type { FleetStore } from '../../functions/core/fleet/store.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import type { IdRange } from '../../scripts/local/exchange/ground-truth.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import { BatchCollector, logsWith, mergedWindows, startRelay, type RelayHandle } from '../support/relay.ts';

const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt'];
const STREAMS = `binance:${SYMBOLS.join(',')}:trade,book_ticker`;
const SHARDS = 2;
const LEASE_MS = 2_000;
const RENEW_MS = 400;

function ids(ranges: readonly IdRange[]): number[] {
  return ranges.flatMap((r) => Array.from({ length: r.lastId - r.firstId + 1 }, (_, i) => r.firstId + i));
}

/**
 * Waits until every shard has a primary confirmed by its heartbeat and a standby whose buffer covers, the
 * same for two leases running; returns shard -> primary.
 */
async function settledFleet(
  store: FleetStore,
  members: readonly string[],
): Promise<Map<string, string> | undefined> {
  let last: string | undefined;
  let since = Date.now();
  for (const deadline = Date.now() + 90_000; Date.now() < deadline; await sleep(200)) {
    const primaries = new Map<string, string>();
    const standbys = new Set<string>();
    // A SIGKILLed member's document stays behind (it is judged dead by its heartbeat standing still).
    const all = (await store.readMembers()).filter((m) => members.includes(m.memberId));
    for (const m of all) {
      for (const [shard, r] of Object.entries(m.shards)) {
        if (r.role === 'primary') primaries.set(shard, m.memberId);
        if (r.role === 'standby' && r.bufferFrom !== null) standbys.add(shard);
      }
    }
    const ok =
      all.length === members.length &&
      primaries.size === SHARDS &&
      [...primaries.keys()].every((s) => standbys.has(s));
    const key = ok ? JSON.stringify([...primaries].sort()) : undefined;
    if (key !== last) since = Date.now();
    last = key;
    if (key !== undefined && Date.now() - since >= 2 * LEASE_MS) return primaries;
  }
  return undefined;
}

/** The first log line with `message` (and, optionally, matching `where`) logged at or after `after`. */
async function logAfter(
  relay: RelayHandle,
  message: string,
  after: number,
  where: (line: Record<string, unknown>) => boolean = () => true,
): Promise<Record<string, unknown> | undefined> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(100)) {
    const line = logsWith(relay.logs(), message).find((l) => Date.parse(String(l.time)) >= after && where(l));
    if (line) return line;
  }
  return undefined;
}

test('a fleet loses no trade: SIGKILL of a primary (standby takes over within the lease), scale-out take-back, SIGTERM handover', async (t) => {
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
    RELAY_FLEET_MIN_SHARDS: String(SHARDS),
    MEMBERS_COLLECTION: collections.members,
    SHARDS_COLLECTION: collections.shards,
    CHECKPOINTS_COLLECTION: uniqueName('cp'),
    GAPS_COLLECTION: uniqueName('gaps'),
    HEARTBEATS_COLLECTION: uniqueName('hb'),
  };
  const relays = new Map<string, RelayHandle>();
  const start = async (name: string) => {
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
  };
  const began = Date.now();
  const phase = (what: string) => t.log(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);
  await Promise.all([start('a'), start('b')]);
  let primaries = await settledFleet(store, [...relays.keys()]);
  t.truthy(primaries, 'every shard has a primary and a covering standby');
  phase('two members settled');

  // 1. SIGKILL a primary: the other member takes its shard over within the lease, replaying its buffer.
  const [killedShard, victim] = [...primaries!][0]!;
  const survivorId = [...relays.keys()].find((id) => id !== victim)!;
  const survivor = relays.get(survivorId)!;
  await relays.get(victim)!.service.kill();
  relays.delete(victim);
  const killedAt = Date.now();
  const takeover = await logAfter(survivor, 'fleet take-over', killedAt, (l) => l.shard === killedShard);
  t.truthy(takeover, `the survivor took ${killedShard} over`);
  const rtoMs = Date.parse(String(takeover!.time)) - killedAt;
  phase(
    `take-over ${rtoMs} ms after SIGKILL (lease ${LEASE_MS} ms, renewal ${RENEW_MS} ms): ${JSON.stringify(takeover)}`,
  );
  t.true(rtoMs < LEASE_MS + 3 * RENEW_MS + 1_000, `RTO ${rtoMs} ms`);
  t.true(
    typeof takeover!.replayFrom === 'number' && Number(takeover!.replayed) > 0,
    'replayed from publishedTo',
  );

  // 2. Scale-out: a new member takes back the shards it is the preferred primary of, make-before-break.
  await start('c');
  primaries = await settledFleet(store, [...relays.keys()]);
  t.truthy(primaries, 'settled again with the new member');
  phase(`scale-out settled: ${JSON.stringify([...primaries!])}`);

  // 3. SIGTERM a member that publishes a shard: it hands the shard over before it exits.
  const leavingId = [...primaries!.values()][0]!;
  const leaving = relays.get(leavingId)!;
  const stoppedAt = Date.now();
  t.is(await leaving.service.terminate(), 0, 'graceful exit');
  relays.delete(leavingId);
  const handover = logsWith(leaving.logs(), 'fleet handover')[0];
  phase(`SIGTERM handover: ${JSON.stringify(handover)} in ${Date.now() - stoppedAt} ms`);
  t.like(handover, { event: 'fleet_handover_done', stillPublishing: [] });
  t.true(
    Number(handover?.afterMs) > 0 && logsWith(leaving.logs(), 'fleet step-down').length > 0,
    'it stepped down',
  );

  // Live a little longer, then freeze the market and drain the last member: all it received arrives.
  const [lastId, last] = [...relays][0]!;
  await sleep(1_000);
  sim.stall(600_000, 'drop');
  t.is(await last.service.terminate(), 0, 'graceful exit');
  const stopped = logsWith(last.logs(), 'relay stopped')[0] as { counters: { batchesOut: number } };
  const own = (all: readonly { relayId: string; attributes: Record<string, string> }[]) =>
    new Set(all.filter((b) => b.relayId.startsWith(lastId)).map((b) => b.attributes.batch)).size;
  t.true(await collector.until((all) => own(all) >= stopped.counters.batchesOut, 60_000), 'all pulled');
  phase('drained');
  checkNoHole(t, sim, collector);
  for (const relay of [survivor, leaving, last]) {
    t.is(logsWith(relay.logs(), 'fleet take-over could not replay from the old publishedTo').length, 0);
  }
});

/** Every trade sent from the first one published on was published, and every stream's coverage is one span. */
function checkNoHole(
  t: ExecutionContext,
  sim: { sentTrades(symbol: string): IdRange[] },
  collector: BatchCollector,
): void {
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
      `${symbol}: every trade sent was published by one member or another`,
    );
    for (const type of ['trade', 'book_ticker']) {
      const windows = mergedWindows(collector.of(`binance:${symbol}:${type}`));
      t.is(windows.length, 1, `${symbol}:${type}: coverage without a hole ${JSON.stringify(windows)}`);
    }
  }
}
