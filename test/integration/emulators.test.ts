import { Firestore } from '@google-cloud/firestore';
import { PubSub, type Message } from '@google-cloud/pubsub';
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startPubSubEmulator } from '../../scripts/local/emulators.ts';
import { portIsFree } from '../../scripts/local/free-port.ts';
import { groupAlive, signalGroup } from '../../scripts/local/process-group.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EMULATORS_CLI = fileURLToPath(new URL('../../scripts/local/emulators.ts', import.meta.url));

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function portOf(host: string): number {
  return Number(host.slice(host.lastIndexOf(':') + 1));
}

test('the shared Pub/Sub emulator delivers a published message to a subscription of its topic', async (t) => {
  const { projectId } = requireEmulators();
  const pubsub = new PubSub({ projectId });
  const [topic] = await pubsub.createTopic(uniqueName('emulator_check_topic'));
  const [subscription] = await topic.createSubscription(uniqueName('emulator_check_sub'));
  try {
    const received = new Promise<Message>((resolve, reject) => {
      subscription.once('message', resolve);
      subscription.once('error', reject);
    });
    const messageId = await topic.publishMessage({
      data: Buffer.from('tick'),
      attributes: { symbol: 'btcusdt' },
    });
    const message = await received;
    message.ack();
    t.is(message.id, messageId);
    t.is(message.data.toString(), 'tick');
    t.deepEqual(message.attributes, { symbol: 'btcusdt' });
  } finally {
    await subscription.close();
    await subscription.delete();
    await topic.delete();
    await pubsub.close();
  }
});

test('the shared Firestore emulator writes and reads a document and commits a transaction', async (t) => {
  const { projectId } = requireEmulators();
  const db = new Firestore({ projectId });
  const doc = db.collection(uniqueName('emulator_check')).doc('btcusdt');
  try {
    await doc.set({ symbol: 'btcusdt', count: 1 });
    t.deepEqual((await doc.get()).data(), { symbol: 'btcusdt', count: 1 });

    const next = await db.runTransaction(async (tx) => {
      const count = ((await tx.get(doc)).get('count') as number) + 1;
      tx.update(doc, { count });
      return count;
    });
    t.is(next, 2);
    t.is((await doc.get()).get('count'), 2);
  } finally {
    await doc.delete();
    await db.terminate();
  }
});

test('a private Pub/Sub emulator stops on request, frees its port and leaves no process in its group', async (t) => {
  const emulator = await startPubSubEmulator({ projectId: 'tickstream-private' });
  t.log(`private Pub/Sub emulator ready in ${emulator.startupMs} ms (${emulator.launcher})`);
  t.false(await portIsFree(emulator.port));

  await emulator.stop();
  await emulator.stop(); // a second stop is a no-op

  // The JVM is our own child and has been reaped, so the group is gone entirely.
  t.throws(() => process.kill(-emulator.pid, 0), { code: 'ESRCH' });
  t.true(await portIsFree(emulator.port));
  t.false(existsSync(dirname(emulator.logPath)), 'the temp dir with log and data is removed');
});

test('emulators of a process that is SIGKILLed are killed by their watchdogs within seconds', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', EMULATORS_CLI, '--pids'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout }), 'line', { signal: AbortSignal.timeout(60_000) }),
    exited.then(() => Promise.reject(new Error(`emulators CLI exited before ready: ${stderr}`))),
  ])) as [string];
  const ready = JSON.parse(line) as {
    pubsub: string;
    firestore: string;
    pids: { pubsub: number; firestore: number };
  };
  const groups = [ready.pids.pubsub, ready.pids.firestore];
  try {
    t.true(groups.every((pgid) => groupAlive(pgid)));

    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    // groupAlive ignores zombies: the orphaned JVMs are reparented to PID 1, which on some machines
    // (these CI micro-VMs) never reaps them; a zombie holds no memory or port.
    t.true(
      await waitFor(() => groups.every((pgid) => !groupAlive(pgid)), 10_000),
      'a JVM outlived its parent',
    );
    t.log(`both JVMs gone ${Date.now() - killedAt} ms after their parent was SIGKILLed`);
    t.true(await portIsFree(portOf(ready.pubsub)));
    t.true(await portIsFree(portOf(ready.firestore)));
  } finally {
    for (const pgid of groups) if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
  }
});
