// `npm start`'s view of its relays: one health answer for all of them, and with a fleet, the fleet line
// (members, shards per member, who is primary of each shard) from Firestore.
import type { Stack } from '../local/stack.ts';
import { readFleet, summarizeFleet } from '../ops/fleet-state.ts';
import type { Health } from './status.ts';

/**
 * Every relay's /healthz folded into one: ready and healthy when all are, and per stream the most ticks
 * one relay took in (a shard's replicas all receive its streams, so a sum would count them twice).
 */
export async function relaysHealth(stack: Stack): Promise<Health> {
  const running = stack.relays
    .map((r, i) => ({ r, url: stack.relayHealthUrls[i]! }))
    .filter((x) => x.r.running);
  const answers = await Promise.all(
    running.map(({ url }) =>
      fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
        .then((res) => res.json() as Promise<Health>)
        .catch((error: unknown) => ({ error: String(error) })),
    ),
  );
  const ok = answers.filter((a): a is Health => !('error' in a));
  const perStream = new Map<string, { exchange: string; stream: string; ticksIn: number }>();
  for (const s of ok.flatMap((a) => a.streams ?? [])) {
    const seen = perStream.get(s.stream);
    if (!seen || seen.ticksIn < s.ticksIn) perStream.set(s.stream, s);
  }
  const streams = [...perStream.values()];
  const reasons = [
    ...answers.flatMap((a, i) =>
      'error' in a
        ? [`${running[i]!.r.spec.name}: ${a.error}`]
        : a.reasons.map((r) => `${running[i]!.r.spec.name}: ${r}`),
    ),
  ];
  return {
    ready: ok.length === answers.length && ok.length > 0 && ok.every((a) => a.ready),
    healthy: ok.length === answers.length && ok.every((a) => a.healthy),
    reasons: stack.fleet ? reasons : reasons.map((r) => r.replace(/^relay: /, '')),
    counters: {
      ticksIn: stack.fleet ? streams.reduce((n, s) => n + s.ticksIn, 0) : (ok[0]?.counters.ticksIn ?? 0),
      ticksPublished: ok.reduce((n, a) => n + a.counters.ticksPublished, 0),
      disconnects: ok.reduce((n, a) => n + a.counters.disconnects, 0),
    },
    streams,
  };
}

/** Members (live of all), shards per member as primary/standby, and each shard's primary (`-`: none live). */
export async function fleetStatus(stack: Stack): Promise<Record<string, unknown>> {
  const fleet = stack.fleet!;
  const view = summarizeFleet(
    await readFleet(stack.firestore, { members: fleet.members, shards: fleet.shards }),
    fleet.leaseMs,
  );
  return {
    members: `${view.members.filter((m) => m.live).length}/${view.members.length} live`,
    shardsPerMember: Object.fromEntries(
      view.members.map((m) => [m.id, { primary: m.primaries, standby: m.standbys, live: m.live }]),
    ),
    primaries: Object.fromEntries(view.shards.map((s) => [s.shard, s.primaryLive ? s.primary : '-'])),
  };
}
