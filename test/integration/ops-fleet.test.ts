// `npm run ops -- fleet` against the Firestore emulator, with member and shard documents of the shapes
// the relays write, and the freezable proxy the fleet chaos uses to cut the relays off Firestore.
import { execFile } from 'node:child_process';
import test from 'ava';
import { Firestore } from '@google-cloud/firestore';
import { REPO_ROOT } from '../../scripts/local/service.ts';
import { startTcpProxy } from '../../scripts/local/tcp-proxy.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

function ops(env: Readonly<Record<string, string>>, ...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/ops.ts', ...args],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '', METADATA_SERVER_DETECTION: 'none', ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const shardEntry = (role: string, epoch: number | null, publishedTo: number | null, rank: number) => ({
  role,
  epoch,
  publishedTo,
  bufferFrom: null,
  rank,
});

test('ops fleet lists members, shards, primaries, standbys and epochs, and names a shard without a live primary', async (t) => {
  const { firestore: host, projectId } = requireEmulators();
  const db = new Firestore({ projectId, host, ssl: false });
  t.teardown(() => db.terminate());
  const members = uniqueName('members');
  const shards = uniqueName('shards');
  const now = Date.now();
  await db.doc(`${members}/relay-1`).set({
    memberId: 'relay-1',
    pool: 'a',
    beat: 4,
    leaving: false,
    shards: {
      'binance/0': shardEntry('primary', 2, now - 300, 0),
      'binance/1': shardEntry('standby', null, null, 1),
    },
  });
  await db.doc(`${members}/relay-2`).set({
    memberId: 'relay-2',
    pool: 'b',
    beat: 9,
    leaving: false,
    shards: { 'binance/0': shardEntry('standby', null, null, 1) },
  });
  await db.doc(`${shards}/binance~0`).set({
    shard: 'binance/0',
    holder: 'relay-1',
    epoch: 2,
    publishedTo: now - 60_000,
    renewedAt: now,
    takenAt: now,
    reason: 'expired',
  });
  const env = {
    GOOGLE_CLOUD_PROJECT: projectId,
    FIRESTORE_EMULATOR_HOST: host,
    MEMBERS_COLLECTION: members,
    SHARDS_COLLECTION: shards,
    RELAY_STREAMS: 'binance:btcusdt,ethusdt,solusdt,xrpusdt:trade',
    RELAY_FLEET_MIN_SHARDS: '2',
    // Liveness by server time is unit-tested (fleet-state); here a loaded machine must not make it flaky.
    RELAY_FLEET_LEASE_MS: '120000',
  };
  const run = await ops(env, 'fleet', '--json');
  t.is(run.code, 0, run.stderr);
  const view = JSON.parse(run.stdout) as {
    members: {
      id: string;
      pool: string;
      live: boolean;
      ageMs: number;
      primaries: number;
      standbys: number;
    }[];
    shards: {
      shard: string;
      primary: string | null;
      epoch: number | null;
      primaryLive: boolean;
      standbys: { id: string }[];
    }[];
    problems: string[];
  };
  t.true(
    view.members.every((m) => m.ageMs >= 0 && m.ageMs < 120_000),
    'ages by server time',
  );
  t.deepEqual(
    view.members.map((m) => [m.id, m.pool, m.live, m.primaries, m.standbys]),
    [
      ['relay-1', 'a', true, 1, 1],
      ['relay-2', 'b', true, 0, 1],
    ],
  );
  t.deepEqual(
    view.shards.map((s) => [s.shard, s.primary, s.epoch, s.primaryLive, s.standbys.map((b) => b.id)]),
    [
      ['binance/0', 'relay-1', 2, true, ['relay-2']],
      ['binance/1', null, null, false, ['relay-1']],
    ],
  );
  t.deepEqual(view.problems, ['binance/1: no primary has taken it']);
});

test('a frozen proxy moves no byte either way until thawed, then delivers what waited', async (t) => {
  const { createServer } = await import('node:net');
  const echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => echo.close());
  const port = (echo.address() as { port: number }).port;
  const proxy = await startTcpProxy(`127.0.0.1:${port}`);
  t.teardown(() => proxy.close());
  const { connect } = await import('node:net');
  const [host, p] = proxy.host.split(':');
  const client = connect(Number(p), host);
  t.teardown(() => client.destroy());
  const received: string[] = [];
  client.on('data', (d: Buffer) => received.push(d.toString()));
  const arrived = (text: string) =>
    new Promise<void>((resolve) => {
      const check = () => (received.join('').includes(text) ? resolve() : setTimeout(check, 5));
      check();
    });
  client.write('one;');
  await arrived('one;');
  proxy.freeze();
  client.write('two;');
  // A round trip through the echo server takes well under this when the proxy forwards.
  await new Promise((r) => setTimeout(r, 300));
  t.is(received.join(''), 'one;', 'nothing crosses a frozen proxy');
  proxy.thaw();
  await arrived('two;');
  t.is(received.join(''), 'one;two;');
});
