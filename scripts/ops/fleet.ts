// `ops fleet`: the relay fleet as Firestore holds it: members (pool, liveness, shards held by role) and
// per shard its primary, epoch, standbys and how far it is published. Liveness is judged by Firestore
// server times (scripts/ops/fleet-state.ts); the publishedTo lag compares a relay's clock with the server's.
import { Firestore } from '@google-cloud/firestore';
import { planShards } from '../../functions/core/fleet/shards.ts';
import { DEFAULT_FLEET_OPTIONS } from '../../functions/core/fleet/options.ts';
import type { FleetEnv } from './env.ts';
import { fleetProblems, readFleet, summarizeFleet, type FleetView } from './fleet-state.ts';
import { duration, iso, table } from './format.ts';
import type { Io } from './io.ts';

export async function fleetCommand(args: { readonly json: boolean }, env: FleetEnv, io: Io): Promise<number> {
  const firestore = new Firestore({ projectId: env.projectId });
  try {
    const expected = env.streams
      ? planShards(env.streams, {
          shardFill: DEFAULT_FLEET_OPTIONS.shardFill,
          minShardsPerExchange: env.minShards,
        }).map((s) => s.id)
      : [];
    const snapshot = await readFleet(firestore, { members: env.members, shards: env.shards });
    const view = summarizeFleet(snapshot, env.leaseMs, expected);
    const problems = fleetProblems(view, false);
    if (args.json) io.out(JSON.stringify({ ...view, problems }, null, 2));
    else io.out(formatFleet(view, problems));
    return 0;
  } finally {
    await firestore.terminate();
  }
}

/** The text `ops fleet` prints (and `npm start`'s fleet status derives from the same view). */
export function formatFleet(view: FleetView, problems: readonly string[]): string {
  const live = view.members.filter((m) => m.live).length;
  const head = `fleet at ${iso(view.readTime)}: ${view.members.length} members (${live} live), ${view.shards.length} shards`;
  const members = table(
    ['member', 'pool', 'live', 'renewed', 'primary', 'standby', 'yielding'],
    view.members.map((m) => [
      m.id,
      m.pool || '-',
      m.live ? 'yes' : m.leaving ? 'leaving' : 'no',
      `${duration(m.ageMs)} ago`,
      String(m.primaries),
      String(m.standbys),
      String(m.yielding),
    ]),
  );
  const shards = table(
    ['shard', 'primary', 'epoch', 'live', 'standbys', 'published to', 'lag'],
    view.shards.map((s) => [
      s.shard,
      s.primary ?? '-',
      s.epoch === null ? '-' : String(s.epoch),
      s.primaryLive ? 'yes' : 'no',
      s.standbys.map((b) => b.id).join(',') || '-',
      iso(s.publishedTo) ?? '-',
      duration(s.lagMs),
    ]),
  );
  const issues = problems.length > 0 ? `\n\nproblems:\n${problems.map((p) => `  ${p}`).join('\n')}` : '';
  return `${head}\n\n${members}\n\n${shards}${issues}`;
}
