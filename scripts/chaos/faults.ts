// Fault injection against a running local stack. Each injector returns when the fault is over (the
// service restarted, the emulator thawed, the brownout cleared) with the fault's window: `start` when it
// was injected, `end` when the harness stopped injecting it. Recovery is what happens after `end`.
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../local/free-port.ts';
import { httpOk, logPath, ServiceProcess } from '../local/service.ts';
import { waitUntil } from '../local/verify.ts';
import type { Stack } from '../local/stack.ts';
import type { FaultKind, FaultSpec } from './plan.ts';
import { FLEET_INJECTORS } from './fleet-faults.ts';
import type { PoisonSource } from './poison.ts';
import type { RssSampler } from './rss.ts';

export interface ChaosContext {
  readonly stack: Stack;
  /** The relay instance currently serving (a redeploy replaces it). */
  relay: ServiceProcess;
  /** Relay instances the harness started; stopped with the run. */
  readonly extraRelays: ServiceProcess[];
  readonly rss: RssSampler;
  readonly seed: number;
  /** Builds the run's poison messages, every one distinct. */
  readonly poison: PoisonSource;
  /** Pub/Sub message ids of the poison messages published. */
  readonly poisonIds: string[];
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
}

export interface FaultRecord {
  readonly kind: FaultKind;
  /** Epoch ms when the fault was injected. */
  readonly start: number;
  /** Epoch ms when the harness stopped injecting it (for a kill: when the replacement was started). */
  readonly end: number;
  readonly detail: Record<string, unknown>;
}

type SpecOf<K extends FaultKind> = FaultSpec & { readonly kind: K };
export type Done = (detail?: Record<string, unknown>, end?: number) => FaultRecord;
export type Injector<K extends FaultKind> = (
  ctx: ChaosContext,
  spec: SpecOf<K>,
  start: number,
  done: Done,
) => Promise<FaultRecord>;

export async function injectFault(ctx: ChaosContext, spec: FaultSpec): Promise<FaultRecord> {
  const start = Date.now();
  const done: Done = (detail = {}, end = Date.now()) => ({ kind: spec.kind, start, end, detail });
  const inject = INJECTORS[spec.kind] as Injector<FaultKind>;
  return inject(ctx, spec, start, done);
}

/** Kills the serving relay and starts it again after `downMs`. */
async function killRelay(
  ctx: ChaosContext,
  spec: SpecOf<'relay-kill'>,
  start: number,
  done: Done,
): Promise<FaultRecord> {
  const relay = ctx.relay;
  await relay.kill();
  await sleep(spec.downMs);
  const end = Date.now();
  await relay.start();
  return done({ downMs: spec.downMs, readyAfterMs: Date.now() - end }, end);
}

/** Kills the writer mid-flight and starts it again after `downMs`. */
async function killWriter(
  ctx: ChaosContext,
  spec: SpecOf<'writer-kill'>,
  start: number,
  done: Done,
): Promise<FaultRecord> {
  const { stack } = ctx;
  // Make "mid-flight" certain: coverage inserts are held for a moment, so deliveries whose rows
  // are already stored wait on their coverage row when the writer dies.
  const delayedBefore = stack.bigquery.stats().faults.delayed;
  stack.bigquery.setFaults({ latencyMs: 2_000, pathPattern: '/tables/coverage/(insertAll|appendRows)$' });
  await sleep(400);
  const held = stack.bigquery.stats().faults.delayed - delayedBefore;
  await stack.writer.kill();
  stack.bigquery.clearFaults();
  await sleep(spec.downMs);
  const end = Date.now();
  await stack.writer.start();
  return done({ downMs: spec.downMs, readyAfterMs: Date.now() - end, coverageInsertsHeld: held }, end);
}

/** Replaces the serving relay as a revision rollout does. */
async function redeployRelay(
  ctx: ChaosContext,
  spec: SpecOf<'relay-redeploy'>,
  start: number,
  done: Done,
): Promise<FaultRecord> {
  // As Cloud Run rolls out a revision: the new instance is up before the old one gets SIGTERM.
  const old = ctx.relay;
  const next = await startRelayInstance(ctx, ctx.extraRelays.length + 2);
  ctx.relay = next;
  const overlapFrom = Date.now();
  const oldExit = await old.terminate();
  return done({ newReadyAfterMs: overlapFrom - start, oldDrainMs: Date.now() - overlapFrom, oldExit });
}

/** Fails and hangs a share of insertAll requests for `lengthMs`. */
async function brownOutBigQuery(
  ctx: ChaosContext,
  spec: SpecOf<'bigquery-brownout'>,
  start: number,
  done: Done,
): Promise<FaultRecord> {
  const { stack } = ctx;
  // Only the insert path browns out; the harness's own queries stay answerable.
  const errorRate = spec.errorShare / (1 - spec.timeoutShare);
  stack.bigquery.setFaults({
    errorRate,
    errorStatus: [500, 502, 503],
    timeoutRate: spec.timeoutShare,
    pathPattern: '(insertAll|appendRows)$',
    seed: ctx.seed,
  });
  const before = stack.bigquery.stats().faults;
  const snapshot = { errors: before.errors, timeouts: before.timeouts };
  await sleep(spec.lengthMs);
  stack.bigquery.clearFaults();
  const after = stack.bigquery.stats().faults;
  return done({
    lengthMs: spec.lengthMs,
    errors: after.errors - snapshot.errors,
    timeouts: after.timeouts - snapshot.timeouts,
  });
}

/** Freezes the Pub/Sub or Firestore emulator for `lengthMs`. */
async function freezeEmulator(
  ctx: ChaosContext,
  spec: SpecOf<'firestore-outage' | 'pubsub-outage'>,
  start: number,
  done: Done,
): Promise<FaultRecord> {
  const { stack } = ctx;
  const which = spec.kind === 'pubsub-outage' ? 'pubsub' : 'firestore';
  stack.freezeEmulator(which);
  try {
    await sleep(spec.lengthMs);
  } finally {
    stack.thawEmulator(which);
  }
  return done({ lengthMs: spec.lengthMs });
}

/** Disconnects and refuses the relay at the storm's events. */
async function flapExchange(
  ctx: ChaosContext,
  spec: SpecOf<'exchange-flaps'>,
  start: number,
  done: Done,
): Promise<FaultRecord> {
  const { stack } = ctx;
  const sim = stack.simulator;
  const connectionsBefore = sim.stats().connections;
  let end = start;
  let dropped = 0;
  let previous: number | undefined;
  let previousAt: number | undefined;
  for (const event of spec.events) {
    // Events keep their spacing from the previous one, even when waiting for a connection delayed it.
    const wait = (previous ?? start) + event.atMs - (previousAt ?? 0) - Date.now();
    if (wait > 0) await sleep(wait);
    previous = Date.now();
    previousAt = event.atMs;
    if (event.action === 'refuse') {
      sim.refuse(event.refuseMs);
      dropped += sim.dropAll('terminate');
      end = Date.now() + event.refuseMs;
    } else {
      // A disconnect needs a connection: wait for the relay to be back (it backs off after refusals).
      await waitUntil(async () => sim.stats().openConnections > 0, 15_000, 50);
      dropped += sim.dropAll(event.action);
      end = Date.now();
    }
  }
  const wait = end - Date.now();
  if (wait > 0) await sleep(wait);
  return done(
    {
      events: spec.events.map((e) => (e.action === 'refuse' ? `refuse ${e.refuseMs}ms` : e.action)),
      dropped,
      reconnects: sim.stats().connections - connectionsBefore,
    },
    end,
  );
}

/** Publishes the burst's poison messages into the ticks topic, alongside real traffic. */
async function publishPoison(
  ctx: ChaosContext,
  spec: SpecOf<'poison-messages'>,
  start: number,
  done: Done,
): Promise<FaultRecord> {
  const { stack } = ctx;
  const topic = stack.pubsub.topic(stack.topology.topic);
  let n = 0;
  for (const message of spec.messages) {
    const wait = start + message.atMs - Date.now();
    if (wait > 0) await sleep(wait);
    ctx.poisonIds.push(await topic.publishMessage(ctx.poison.next(message.poison, Date.now())));
    n++;
  }
  return done({ published: n, kinds: [...new Set(spec.messages.map((m) => m.poison))].length });
}

/** The injector of each fault kind. */
const INJECTORS: { readonly [K in FaultKind]: Injector<K> } = {
  'relay-kill': killRelay,
  'writer-kill': killWriter,
  'relay-redeploy': redeployRelay,
  'bigquery-brownout': brownOutBigQuery,
  'firestore-outage': freezeEmulator,
  'pubsub-outage': freezeEmulator,
  'exchange-flaps': flapExchange,
  'poison-messages': publishPoison,
  ...FLEET_INJECTORS,
};

/** Another relay instance on the same configuration (its own health port and log), started and ready. */
async function startRelayInstance(ctx: ChaosContext, n: number): Promise<ServiceProcess> {
  if (ctx.stack.fleet) {
    // In a fleet a new instance is a new member (its own id); the stack stops it with the others.
    const member = await ctx.stack.addRelay();
    ctx.rss.track(member);
    return member;
  }
  const spec = ctx.stack.relay.spec;
  const port = await freePort();
  const relay = new ServiceProcess({
    ...spec,
    name: `relay-${n}`,
    env: { ...spec.env, PORT: String(port) },
    logPath: logPath(ctx.stack.workDir, `relay-${n}`),
    ready: () => httpOk(`http://127.0.0.1:${port}/readyz`, (status) => status === 200),
  });
  ctx.extraRelays.push(relay);
  ctx.rss.track(relay);
  await relay.start();
  return relay;
}
