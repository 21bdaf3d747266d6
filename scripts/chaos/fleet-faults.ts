// The relay fleet's fault injectors (scripts/chaos/fleet-plan.ts): each acts on the members of a fleet
// stack, found by what Firestore says they hold, and returns once the fleet is whole again (every shard
// with a live primary and a live standby) or its bound ran out. Take-overs and step-downs are read from
// Firestore and from the relays' own log lines.
import { setTimeout as sleep } from 'node:timers/promises';
import { signalGroup } from '../local/process-group.ts';
import type { ServiceProcess } from '../local/service.ts';
import type { Stack } from '../local/stack.ts';
import { waitUntil } from '../local/verify.ts';
import { fleetProblems, readFleet, summarizeFleet, type FleetView } from '../ops/fleet-state.ts';
import type { FleetFaultKind, FleetFaultSpec } from './fleet-plan.ts';
import type { ChaosContext, Done, Injector } from './faults.ts';

type SpecOf<K extends FleetFaultKind> = FleetFaultSpec & { readonly kind: K };

/** Bound on the fleet becoming whole again after a fault (a take-over is a lease, a join a few seconds). */
const WHOLE_TIMEOUT_MS = 45_000;

export async function fleetView(stack: Stack): Promise<FleetView> {
  const fleet = stack.fleet!;
  return summarizeFleet(
    await readFleet(stack.firestore, { members: fleet.members, shards: fleet.shards }),
    fleet.leaseMs,
  );
}

/** Waits until every shard has a live primary and a live standby and nobody yields; ms waited or null. */
export async function waitFleetWhole(stack: Stack, timeoutMs = WHOLE_TIMEOUT_MS): Promise<number | null> {
  const from = Date.now();
  const whole = await waitUntil(
    async () => {
      const view = await fleetView(stack);
      return (
        view.shards.length > 0 &&
        fleetProblems(view, false).length === 0 &&
        view.members.every((m) => m.yielding === 0)
      );
    },
    timeoutMs,
    200,
  );
  return whole ? Date.now() - from : null;
}

function memberOf(stack: Stack, id: string): ServiceProcess {
  const relay = stack.relays.find((r) => r.spec.env.RELAY_ID === id && r.running);
  if (!relay) throw new Error(`no running relay is member ${id}`);
  return relay;
}

/** Live members primary of at least one shard, by id; `pick` chooses one (seeded). */
async function pickPrimary(stack: Stack, pick: number): Promise<{ id: string; shards: string[] }> {
  const view = await fleetView(stack);
  const primaries = view.members.filter((m) => m.live && m.primaries > 0).map((m) => m.id);
  if (primaries.length === 0) throw new Error('no live primary in the fleet');
  const id = primaries[pick % primaries.length]!;
  return { id, shards: view.shards.filter((s) => s.primary === id && s.primaryLive).map((s) => s.shard) };
}

/** Ms from `since` until every shard of `shards` has a live primary other than `old`; null on timeout. */
async function takenOver(stack: Stack, shards: readonly string[], old: string, since: number) {
  const ok = await waitUntil(
    async () => {
      const view = await fleetView(stack);
      return shards.every((id) => {
        const s = view.shards.find((x) => x.shard === id);
        return s !== undefined && s.primaryLive && s.primary !== old;
      });
    },
    WHOLE_TIMEOUT_MS,
    100,
  );
  return ok ? Date.now() - since : null;
}

/** Each shard's replicas as `primary|standby,standby`, to count what a membership change moved. */
function placement(view: FleetView): Map<string, string> {
  return new Map(
    view.shards.map((s) => [
      s.shard,
      `${s.primary}|${s.standbys
        .map((b) => b.id)
        .sort()
        .join(',')}`,
    ]),
  );
}

function moved(before: Map<string, string>, after: Map<string, string>) {
  let replicas = 0;
  let primaries = 0;
  for (const [shard, was] of before) {
    const now = after.get(shard);
    if (now !== was) replicas++;
    if (now?.split('|')[0] !== was.split('|')[0]) primaries++;
  }
  return { movedShards: replicas, movedPrimaries: primaries, shards: before.size };
}

/** Log lines of `relay` whose message is `message`, written after `since` (ms). */
function linesSince(relay: ServiceProcess, message: string, since: number): Record<string, unknown>[] {
  return relay
    .logLines()
    .filter((l) => l.includes(`"${message}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => Date.parse(String(l.time)) >= since);
}

async function primaryKill(ctx: ChaosContext, spec: SpecOf<'primary-kill'>, start: number, done: Done) {
  const { stack } = ctx;
  const victim = await pickPrimary(stack, spec.pick);
  const relay = memberOf(stack, victim.id);
  const killedAt = Date.now();
  await relay.kill();
  const takeoverMs = await takenOver(stack, victim.shards, victim.id, killedAt);
  // The platform restarts a crashed instance: it rejoins and takes its preferred shards back.
  await relay.start();
  const wholeAfterMs = await waitFleetWhole(stack);
  return done({ member: victim.id, shards: victim.shards, takeoverMs, wholeAfterMs }, killedAt);
}

async function primaryPause(ctx: ChaosContext, spec: SpecOf<'primary-pause'>, start: number, done: Done) {
  const { stack } = ctx;
  const victim = await pickPrimary(stack, spec.pick);
  const relay = memberOf(stack, victim.id);
  const pausedAt = Date.now();
  signalGroup(relay.processId!, 'SIGSTOP');
  let takeoverMs: number | null;
  try {
    takeoverMs = await takenOver(stack, victim.shards, victim.id, pausedAt);
    const rest = pausedAt + spec.pauseMs - Date.now();
    if (rest > 0) await sleep(rest);
  } finally {
    signalGroup(relay.processId!, 'SIGCONT');
  }
  const resumedAt = Date.now();
  // Once it reads the higher epoch (and sees it published past its coverage), it steps down: wait for it.
  const stepped = await waitUntil(
    async () => linesSince(relay, 'fleet step-down', resumedAt).length >= victim.shards.length,
    WHOLE_TIMEOUT_MS,
    200,
  );
  const stepDownMs = stepped ? Date.now() - resumedAt : null;
  const stepDowns = linesSince(relay, 'fleet step-down', resumedAt).length;
  const wholeAfterMs = await waitFleetWhole(stack);
  return done(
    {
      member: victim.id,
      shards: victim.shards,
      pauseMs: spec.pauseMs,
      takeoverMs,
      stepDowns,
      stepDownMs,
      wholeAfterMs,
    },
    pausedAt,
  );
}

/** Every member replaced one by one: the new one ready (and the fleet whole) before the old one's SIGTERM. */
async function fleetRedeploy(ctx: ChaosContext, spec: SpecOf<'fleet-redeploy'>, start: number, done: Done) {
  const { stack } = ctx;
  const old = stack.relays.filter((r) => r.running);
  const exits: (number | null)[] = [];
  let handovers = 0;
  let abandoned = 0;
  for (const relay of old) {
    const next = await stack.addRelay();
    ctx.rss.track(next);
    // Make-before-break: the new member has joined and the fleet has placed its replicas.
    await waitUntil(async () => isLive(stack, next.spec.env.RELAY_ID!), WHOLE_TIMEOUT_MS, 200);
    await placementSettled(stack);
    const stoppingAt = Date.now();
    exits.push(await relay.terminate());
    handovers += linesSince(relay, 'fleet handover', stoppingAt).filter(
      (l) => l.event === 'fleet_handover_done',
    ).length;
    abandoned += linesSince(relay, 'fleet handover', stoppingAt).filter(
      (l) => l.event === 'fleet_handover_abandoned',
    ).length;
  }
  ctx.relay = stack.relays.find((r) => r.running)!;
  const wholeAfterMs = await waitFleetWhole(stack);
  return done({ replaced: old.length, exits, handovers, abandoned, wholeAfterMs });
}

async function scale(ctx: ChaosContext, spec: SpecOf<'scale-out' | 'scale-in'>, start: number, done: Done) {
  const { stack } = ctx;
  const before = await fleetView(stack);
  let exit: number | null = null;
  let member: string;
  if (spec.kind === 'scale-out') {
    const added = await stack.addRelay();
    ctx.rss.track(added);
    member = added.spec.env.RELAY_ID!;
  } else {
    const newest = [...stack.relays].reverse().find((r) => r.running && r !== ctx.relay)!;
    member = newest.spec.env.RELAY_ID!;
    exit = await newest.terminate();
  }
  // Ready is not joined: wait until Firestore shows the member live (or gone), then for the moves to end.
  const joined = await waitUntil(
    async () =>
      (await fleetView(stack)).members.some((m) => m.id === member && m.live) === (spec.kind === 'scale-out'),
    WHOLE_TIMEOUT_MS,
    200,
  );
  const wholeAfterMs = await placementSettled(stack);
  const after = await fleetView(stack);
  const live = (v: FleetView) => v.members.filter((m) => m.live).length;
  return done({
    member,
    joined,
    members: `${live(before)} -> ${live(after)}`,
    ...moved(placement(before), placement(after)),
    ...(spec.kind === 'scale-in' ? { exit } : {}),
    wholeAfterMs,
  });
}

async function isLive(stack: Stack, member: string): Promise<boolean> {
  return (await fleetView(stack)).members.some((m) => m.id === member && m.live);
}

/** Ms until the fleet is whole with the same placement for a whole lease (moves over); null on timeout. */
async function placementSettled(stack: Stack): Promise<number | null> {
  const from = Date.now();
  let last = '';
  let since = from;
  const ok = await waitUntil(
    async () => {
      if ((await waitFleetWhole(stack)) === null) return false;
      const now = JSON.stringify([...placement(await fleetView(stack))]);
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= stack.fleet!.leaseMs;
    },
    WHOLE_TIMEOUT_MS,
    200,
  );
  return ok ? Date.now() - from : null;
}

async function controlPlaneLoss(
  ctx: ChaosContext,
  spec: SpecOf<'control-plane-loss'>,
  start: number,
  done: Done,
) {
  const proxy = ctx.stack.fleet?.proxy;
  if (!proxy) throw new Error('control-plane-loss needs the fleet stack with its Firestore proxy');
  const epochs = (v: FleetView) => v.shards.map((s) => `${s.shard}@${s.epoch}`).join(' ');
  const before = await fleetView(ctx.stack);
  proxy.freeze();
  try {
    await sleep(spec.lengthMs);
  } finally {
    proxy.thaw();
  }
  const end = Date.now();
  const wholeAfterMs = await waitFleetWhole(ctx.stack);
  const after = await fleetView(ctx.stack);
  return done(
    { lengthMs: spec.lengthMs, epochsBefore: epochs(before), epochsAfter: epochs(after), wholeAfterMs },
    end,
  );
}

async function replicasLost(ctx: ChaosContext, spec: SpecOf<'replicas-lost'>, start: number, done: Done) {
  const { stack } = ctx;
  const view = await fleetView(stack);
  const shard = view.shards[spec.pick % view.shards.length]!;
  const ids = [shard.primary!, ...shard.standbys.map((b) => b.id)];
  const relays = ids.map((id) => memberOf(stack, id));
  await Promise.all(relays.map((r) => r.kill()));
  await sleep(spec.downMs);
  const end = Date.now();
  await Promise.all(relays.map((r) => r.start()));
  const wholeAfterMs = await waitFleetWhole(stack);
  return done({ shard: shard.shard, members: ids, downMs: spec.downMs, wholeAfterMs }, end);
}

export const FLEET_INJECTORS: { readonly [K in FleetFaultKind]: Injector<K> } = {
  'primary-kill': primaryKill,
  'primary-pause': primaryPause,
  'fleet-redeploy': fleetRedeploy,
  'scale-out': scale,
  'scale-in': scale,
  'control-plane-loss': controlPlaneLoss,
  'replicas-lost': replicasLost,
};
