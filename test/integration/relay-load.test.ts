import test from 'ava';
import { readFileSync } from 'node:fs';
import { PubSub } from '@google-cloud/pubsub';
import { RELAY_GRPC_OPTIONS } from '../../functions/adapters/pubsub/tick-publisher.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { startPubSubEmulator } from '../../scripts/local/emulators.ts';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import { signalGroup } from '../../scripts/local/process-group.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import {
  BatchCollector,
  compileRelay,
  logsWith,
  mergedWindows,
  relayOnSimulator,
  startRelay,
} from '../support/relay.ts';

// The two tests at 5,000 ticks/s run one after the other: on a 2-core machine, two such loads at once
// (simulator, relay, emulator each) would measure the machine rather than the relay.

const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt', 'bnbusdt', 'adausdt'];
const RATE = 1000; // trades per second per symbol: 5,000 ticks/s in all

interface Stopped {
  drainMs: number;
  counters: {
    ticksIn: number;
    ticksPublished: number;
    publishFailures: number;
    batchesOut: number;
    ticksAfterStop: number;
  };
}

test.serial(
  'SIGTERM at 5,000 ticks/s: every tick received before the signal is in Pub/Sub and the relay exits within 8 s',
  async (t) => {
    const sim = await startSimulator({ seed: 47, ratePerSymbol: RATE, symbols: SYMBOLS });
    t.teardown(() => sim.stop());
    const { relay, collector } = await relayOnSimulator(
      t,
      'relay-shutdown',
      sim,
      `binance:${SYMBOLS.join(',')}:trade`,
    );
    const flowing = Date.now() + 3000;
    t.true(
      await collector.until((all) => all.some((b) => b.window.from >= flowing), 30_000),
      'the relay publishes under load',
    );

    // The signal lands mid-stream: frames are on the wire and in the relay's buffers.
    const signalAt = Date.now();
    const code = await relay.service.terminate(15_000);
    const exitMs = Date.now() - signalAt;
    t.is(code, 0);
    t.true(exitMs < 8000, `exited ${exitMs} ms after SIGTERM`);
    const stopped = logsWith(relay.logs(), 'relay stopped')[0] as unknown as Stopped | undefined;
    if (!stopped) return t.fail(`no shutdown summary; log: ${relay.service.tail()}`);
    const { counters } = stopped;
    t.true(await collector.untilDistinct(counters.batchesOut, 30_000), 'every acknowledged batch pulled');
    sim.stall(600_000, 'drop');

    // "Received" = delivered by tardis-dev to the relay (stamped with a receive time); ticksIn counts them.
    t.is(counters.publishFailures, 0);
    t.is(counters.ticksAfterStop, 0, 'no tick was delivered after intake stopped');
    t.is(counters.ticksPublished, counters.ticksIn, 'the relay published every tick it received');
    let pulled = 0;
    const rowIds = new Set<string>();
    for (const symbol of SYMBOLS) {
      const batches = collector.of(`binance:${symbol}:trade`);
      t.deepEqual(
        batches.map((b) => b.seq),
        batches.map((_, i) => i),
        `${symbol}: batches 0..n all arrived`,
      );
      const trades = batches.flatMap((b) => b.ticks as TradeTick[]);
      for (const id of batches.flatMap((b) => b.rowIds)) rowIds.add(id);
      pulled += trades.length;
      const published = trades.map((x) => Number(x.id));
      const first = published[0]!;
      t.deepEqual(
        published,
        published.map((_, i) => first + i),
        `${symbol}: contiguous trade ids, none missing in between`,
      );
      const sent = sim.sentTrades(symbol);
      t.is(sent[0]!.firstId, first, `${symbol}: from the first trade sent after subscribing`);
      const lastSent = sent.at(-1)!.lastId;
      // Coverage ends at the last tick received: what was sent but not received before the signal lies
      // outside every window, an explicit hole for the gap-filler, never a silent loss.
      const windows = mergedWindows(batches);
      t.is(windows.length, 1, `${symbol}: one continuous window`);
      // A loop, not Math.max(...ticks): tens of thousands of arguments can overflow the call stack.
      let lastReceivedMs = -Infinity;
      for (const b of SYMBOLS.flatMap((s) => collector.of(`binance:${s}:trade`))) {
        for (const x of b.ticks) lastReceivedMs = Math.max(lastReceivedMs, Math.floor(x.localTs / 1000));
      }
      t.true(
        windows[0]!.to <= lastReceivedMs + 1,
        `${symbol}: coverage claims nothing after the last received tick`,
      );
      t.log(
        `${symbol}: published ${published.length} trades ${first}..${published.at(-1)}; sent up to ${lastSent} ` +
          `(${lastSent - published.at(-1)!} not received before the signal, outside coverage ending ${windows[0]!.to})`,
      );
    }
    t.is(pulled, counters.ticksIn, 'Pub/Sub holds exactly the ticks the relay counted in');
    t.is(rowIds.size, pulled, 'no tick published twice');
    t.log(`ticksIn ${counters.ticksIn}, drain ${stopped.drainMs} ms, exit ${exitMs} ms after SIGTERM`);
  },
);

/** How long Pub/Sub is unreachable; RELAY_OUTAGE_MS lengthens it for a manual measurement (e.g. 60000). */
const OUTAGE_MS = Number(process.env.RELAY_OUTAGE_MS ?? 20_000);
const RSS_BOUND = 256 * 1024 * 1024;
const PUBLISH_TIMEOUT_MS = Number(process.env.RELAY_PUBLISH_TIMEOUT_MS ?? 5_000);

interface LostLine {
  stream: string;
  batchId: string;
  ticks: number;
  windowFrom: number;
  windowTo: number;
}

function rssOf(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

test.serial(
  'Pub/Sub unreachable for 20 s at 5,000 ticks/s: memory stays bounded, the lost windows are logged, publishing resumes',
  async (t) => {
    t.timeout(OUTAGE_MS + 100_000);
    const shared = requireEmulators();
    // A private emulator: this test freezes it (SIGSTOP), which would stall every other test. The relay
    // runs compiled by plain node, as in the container (tsx's source maps alone cost tens of MB).
    const [emulator, build] = await Promise.all([
      startPubSubEmulator({ projectId: shared.projectId }),
      compileRelay(),
    ]);
    t.teardown(() => emulator.stop());
    t.teardown(() => build.remove());
    const sim = await startSimulator({ seed: 59, ratePerSymbol: RATE, symbols: SYMBOLS });
    t.teardown(() => sim.stop());
    const pubsub = new PubSub({
      projectId: shared.projectId,
      apiEndpoint: emulator.host,
      emulatorMode: true,
      ...RELAY_GRPC_OPTIONS, // reconnect promptly after the freeze, as the relay does
    });
    t.teardown(() => pubsub.close());
    const topic = uniqueName('relay_bp');
    const collector = await BatchCollector.start(pubsub, topic, `${topic}_pull`);
    t.teardown(() => collector.stop());
    const relay = await startRelay(
      'relay-backpressure',
      {
        streams: `binance:${SYMBOLS.join(',')}:trade`,
        topic,
        pubsubHost: emulator.host,
        firestoreHost: shared.firestore,
        projectId: shared.projectId,
        extra: {
          WSS_URL_BINANCE: sim.wsUrl,
          RELAY_PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
          CHECKPOINTS_COLLECTION: uniqueName('cp'),
          GAPS_COLLECTION: uniqueName('gaps'),
          HEARTBEATS_COLLECTION: uniqueName('hb'),
          RELAY_METRICS_INTERVAL_MS: '5000',
        },
      },
      { compiled: build.main },
    );
    t.teardown(() => relay.service.kill());
    const pid = relay.service.pid;
    let maxRss = 0;
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssOf(pid) ?? 0)), 200);
    t.teardown(() => clearInterval(sampler));

    const steady = Date.now() + 3000;
    t.true(
      await collector.until((all) => all.some((b) => b.window.from >= steady), 90_000),
      'publishing before',
    );
    const rssBefore = maxRss;

    // Pub/Sub goes away: the emulator is frozen, its sockets stay open and nothing answers.
    t.true(signalGroup(emulator.pid, 'SIGSTOP'));
    const outageFrom = Date.now();
    t.teardown(() => void signalGroup(emulator.pid, 'SIGCONT'));
    // The outage is a duration, not an event: the emulator is thawed when it has passed.
    const outageTo = await new Promise<number>((resolve) =>
      setTimeout(() => {
        signalGroup(emulator.pid, 'SIGCONT');
        resolve(Date.now());
      }, OUTAGE_MS),
    );
    const failuresDuring = logsWith(
      relay.logs(),
      'publish failed; batch lost, its window stays uncovered',
    ).length;
    t.true(failuresDuring > 0, 'publishes time out and are reported while Pub/Sub is down');

    t.true(
      await collector.until((all) => all.some((b) => b.window.from >= outageTo + 2000), 60_000),
      'publishing resumes after Pub/Sub is back',
    );
    sim.stall(600_000, 'drop');
    t.is(await relay.service.terminate(), 0);
    clearInterval(sampler);
    const logs = relay.logs();
    const stopped = logsWith(logs, 'relay stopped')[0] as unknown as { counters: Record<string, number> };
    const { counters } = stopped;
    const lost = [
      ...logsWith(logs, 'publish failed; batch lost, its window stays uncovered'),
      ...logsWith(logs, 'publisher backlog full; batch dropped, its window stays uncovered'),
    ] as unknown as LostLine[];
    // Every batch the relay cut was acknowledged or logged as lost (a lost one may still have reached the
    // emulator before it froze): wait until each is pulled or logged.
    const cut = counters.batchesOut! + counters.publishFailures! + counters.backpressureDrops!;
    const accounted = () =>
      new Set([...collector.batches.map((b) => b.attributes.batch), ...lost.map((l) => l.batchId)]).size;
    t.true(
      await collector.until(() => accounted() >= cut, 60_000),
      `all ${cut} batches accounted for (${accounted()})`,
    );

    t.true(maxRss < RSS_BOUND, `max RSS ${(maxRss / 2 ** 20).toFixed(0)} MB < 256 MB`);
    t.is(
      lost.length,
      counters.publishFailures! + counters.backpressureDrops!,
      'every lost batch logged once',
    );
    t.is(
      lost.reduce((n, l) => n + l.ticks, 0),
      counters.ticksLostPublish! + counters.ticksLostBackpressure!,
      'lost ticks counted',
    );
    for (const symbol of SYMBOLS) {
      const id = `binance:${symbol}:trade`;
      const pulled = collector.of(id);
      const lostHere = lost.filter((l) => l.stream === id);
      // Never silent: every batch the relay cut was either delivered or logged with its window.
      const bySeq = new Map<number, { from: number; to: number }>();
      for (const b of pulled) bySeq.set(b.seq, b.window);
      for (const l of lostHere) {
        const seq = Number(l.batchId.split('/').at(-1));
        if (!bySeq.has(seq)) bySeq.set(seq, { from: l.windowFrom, to: l.windowTo });
      }
      const seqs = [...bySeq.keys()].sort((a, b) => a - b);
      t.deepEqual(
        seqs,
        seqs.map((_, i) => i),
        `${id}: every batch delivered or logged as lost`,
      );
      const windows = seqs.map((s) => bySeq.get(s)!);
      for (let i = 1; i < windows.length; i++) {
        t.is(windows[i]!.from, windows[i - 1]!.to, `${id}: delivered and lost windows tile the time`);
      }
      // The holes are the outage: lost windows lie within it (plus the publish timeout after it).
      const delivered = new Set(pulled.map((b) => b.seq));
      const holes = lostHere.filter((l) => !delivered.has(Number(l.batchId.split('/').at(-1))));
      t.true(holes.length > 0, `${id}: the outage left an uncovered window`);
      for (const h of holes) {
        t.true(
          h.windowTo >= outageFrom - PUBLISH_TIMEOUT_MS && h.windowFrom <= outageTo + PUBLISH_TIMEOUT_MS,
          `${id}: lost window [${h.windowFrom}, ${h.windowTo}) belongs to the outage [${outageFrom}, ${outageTo})`,
        );
      }
      if (symbol === SYMBOLS[0]) {
        t.log(
          `${id}: ${holes.length} lost batches, uncovered ${holes[0]!.windowFrom}..${holes.at(-1)!.windowTo} ` +
            `for an outage ${outageFrom}..${outageTo}`,
        );
      }
    }
    t.log(
      `RSS before ${(rssBefore / 2 ** 20).toFixed(0)} MB, max ${(maxRss / 2 ** 20).toFixed(0)} MB; ` +
        `publishFailures ${counters.publishFailures}, ticksLostPublish ${counters.ticksLostPublish}, ` +
        `backpressureDrops ${counters.backpressureDrops}, uncoveredMs ${counters.uncoveredMs}`,
    );
  },
);
