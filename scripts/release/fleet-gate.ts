/**
 * CD's deploy gate between rolling relay pool a and pool b (cloudbuild.yaml, docs/DEPLOY.md): waits until
 * every shard of the configured streams has a live primary and a live standby in another pool, read from
 * Firestore, and exits 1 naming the shards at fault when --wait-s runs out. Rolling pool b before that
 * could take the last replica of a shard.
 *
 *   node dist/scripts/release/fleet-gate.js --project=P --streams='binance:btcusdt:trade' [--min-shards=1]
 *     [--lease-ms=5000] [--wait-s=300] [--members=relay_members] [--shards=relay_shards] [--any-pool]
 *
 * --min-shards and --lease-ms must be the relays' RELAY_FLEET_MIN_SHARDS and RELAY_FLEET_LEASE_MS.
 * Uses application default credentials (Firestore read).
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { planShards } from '../../functions/core/fleet/shards.ts';
import { DEFAULT_FLEET_OPTIONS } from '../../functions/core/fleet/options.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import { fleetProblems, readFleet, summarizeFleet, type FleetSnapshot } from '../ops/fleet-state.ts';

export interface GateOptions {
  readonly shardIds: readonly string[];
  readonly leaseMs: number;
  readonly distinctPools: boolean;
  readonly waitMs: number;
  readonly pollMs: number;
}

/**
 * Reads until the fleet has no problem (returns []) or the wait runs out (returns the last problems).
 * An unreadable Firestore is a problem too, retried like the others.
 */
export async function waitForFleet(
  read: () => Promise<FleetSnapshot>,
  options: GateOptions,
  log: (line: string) => void,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<string[]> {
  const deadline = Date.now() + options.waitMs;
  let last = '';
  for (;;) {
    let problems: string[];
    try {
      const view = summarizeFleet(await read(), options.leaseMs, options.shardIds);
      problems = fleetProblems(view, options.distinctPools);
    } catch (error) {
      problems = [`the fleet could not be read: ${(error as Error).message}`];
    }
    if (problems.length === 0) return [];
    const text = problems.join('\n');
    if (text !== last) log(`fleet-gate: waiting:\n${text}`);
    last = text;
    if (Date.now() >= deadline) return problems;
    await sleep(options.pollMs);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      project: { type: 'string' },
      streams: { type: 'string' },
      'min-shards': { type: 'string', default: String(DEFAULT_FLEET_OPTIONS.minShardsPerExchange) },
      'lease-ms': { type: 'string', default: '5000' },
      'wait-s': { type: 'string', default: '300' },
      members: { type: 'string', default: 'relay_members' },
      shards: { type: 'string', default: 'relay_shards' },
      'any-pool': { type: 'boolean', default: false },
    },
  });
  if (!values.project || !values.streams) throw new Error('--project and --streams are required');
  const minShards = Number(values['min-shards']);
  const leaseMs = Number(values['lease-ms']);
  const waitS = Number(values['wait-s']);
  for (const [name, n] of [
    ['--min-shards', minShards],
    ['--lease-ms', leaseMs],
    ['--wait-s', waitS],
  ] as const) {
    if (!Number.isInteger(n) || n < (name === '--wait-s' ? 0 : 1))
      throw new Error(`${name} must be a whole number`);
  }
  const shardIds = planShards(parseStreamsConfig(values.streams), {
    shardFill: DEFAULT_FLEET_OPTIONS.shardFill,
    minShardsPerExchange: minShards,
  }).map((s) => s.id);

  const { Firestore } = await import('@google-cloud/firestore');
  const firestore = new Firestore({ projectId: values.project });
  const collections = { members: values.members, shards: values.shards };
  try {
    const problems = await waitForFleet(
      () => readFleet(firestore, collections),
      { shardIds, leaseMs, distinctPools: !values['any-pool'], waitMs: waitS * 1000, pollMs: 2000 },
      (line) => console.error(line),
    );
    if (problems.length > 0) {
      console.error(
        `fleet-gate: refused after ${waitS} s; the next pool must not roll:\n${problems.join('\n')}`,
      );
      process.exitCode = 1;
      return;
    }
    console.log(`fleet-gate: all ${shardIds.length} shards have a live primary and a live standby`);
  } finally {
    await firestore.terminate();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(`fleet-gate: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
