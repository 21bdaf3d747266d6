// The README's first command, run the way a user runs it: `npm start -- --duration S --json` starts the
// whole local pipeline (its own emulators, stand-ins, simulator, relay, writer, gap-filler under the
// Scheduler stand-in) on every exchange and data type the registries offer, prints status lines, then
// verifies every dedup view against the ground truth.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import test from 'ava';
import { signalGroup } from '../../scripts/local/process-group.ts';
import { REPO_ROOT } from '../../scripts/local/service.ts';
import { defaultMix } from '../../scripts/local/stream-mix.ts';

test('npm start --duration records every exchange and type of the registries, reports each, and ends with nothing missing', async (t) => {
  t.timeout(400_000);
  const mix = defaultMix();
  const expected = mix.flatMap((m) => m.types.map((type) => `${m.exchange}:${type}`)).sort();
  t.true(mix.length >= 2, 'the default runs several exchanges');
  const args = ['--duration', '10', '--json', '--rate', '20', '--seed', '7'];
  const child = spawn(
    process.execPath,
    ['--import=tsx', 'scripts/start.ts', ...args, '--gapfill-period', '5'],
    {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.teardown(() => {
    // It stops its own processes on SIGTERM; SIGKILL the group if it is still there after that.
    if (child.exitCode === null && child.pid !== undefined) {
      signalGroup(child.pid, 'SIGTERM');
      setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), 15_000).unref();
    }
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) t.log(stderr.slice(-20).join('\n'));

  const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const statuses = records.filter((r) => r.message === 'status');
  t.true(statuses.length >= 1, 'at least one status line');
  const status = statuses[statuses.length - 1]!;
  const perType = status.perStreamType as Record<string, { ticksIn: number; stored: number; lagMs: unknown }>;
  t.deepEqual(Object.keys(perType).sort(), expected, 'the status line reports every exchange and type');
  for (const [key, entry] of Object.entries(perType)) {
    t.is(typeof entry.ticksIn, 'number', `${key} ticksIn`);
    t.is(typeof entry.stored, 'number', `${key} stored`);
  }
  for (const field of ['ticksPerS', 'rowsPerS', 'openGaps', 'rowsBackfilled']) {
    t.is(typeof status[field], 'number', `status has ${field}`);
  }
  // The default is a fleet of 3: the status line names its members, shards per member and each primary.
  const fleet = status.fleet as {
    members: string;
    shardsPerMember: Record<string, { primary: number; standby: number; live: boolean }>;
    primaries: Record<string, string>;
  };
  t.regex(fleet.members, /^[0-3]\/3 live$/);
  t.deepEqual(Object.keys(fleet.shardsPerMember).sort(), ['relay-1', 'relay-2', 'relay-3']);
  const shards = Object.keys(fleet.primaries);
  t.true(shards.length >= mix.length, 'at least one shard per exchange');
  const primaries = Object.values(fleet.shardsPerMember).reduce((n, m) => n + m.primary, 0);
  t.true(primaries <= shards.length, 'one primary per shard at most');
  for (const primary of Object.values(fleet.primaries))
    t.true(primary === '-' || primary in fleet.shardsPerMember);

  const summary = records[records.length - 1]!;
  t.log(JSON.stringify(summary));
  t.is(code, 0, 'exit code 0');
  t.true((summary.sent as number) > 0, 'the simulator sent ticks');
  t.is(summary.missing, 0);
  t.is(summary.duplicates, 0);
  const per = summary.per_stream_type as Record<string, unknown>[];
  t.deepEqual(per.map((e) => `${e.exchange as string}:${e.type as string}`).sort(), expected);
  for (const entry of per) {
    t.deepEqual(Object.keys(entry).sort(), ['duplicates', 'exchange', 'missing', 'sent', 'stored', 'type']);
    t.is(entry.stored, entry.sent, `${entry.exchange as string} ${entry.type as string}: all stored`);
    t.is(entry.missing, 0);
    t.is(entry.duplicates, 0);
  }
  for (const m of mix) {
    const sent = per.filter((e) => e.exchange === m.exchange).reduce((n, e) => n + (e.sent as number), 0);
    t.true(sent > 0, `${m.exchange}: ticks were sent`);
  }
  const sum = (key: string) => per.reduce((n, e) => n + (e[key] as number), 0);
  for (const key of ['sent', 'stored', 'missing', 'duplicates'])
    t.is(summary[key], sum(key), `${key} is the total`);
  t.is(summary.unexpected_live, 0, 'no live row outside what the exchange sent');
  t.is(summary.stored, summary.sent);
  t.is(summary.gapfill_settled, true);
  t.is(summary.gaps_open, 0, 'no gap left open');
  if ((summary.backfilled_after_freeze as number) > 0) {
    // The frozen exchange is a hole the gap-filler fills: the ledger the summary reads must show it.
    t.true((summary.gaps as number) > 0 && (summary.rows_backfilled as number) > 0, 'backfill has its gaps');
  }
});
