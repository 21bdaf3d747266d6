import test from 'ava';
import { batchId } from '../../functions/core/contract/batch.ts';
import { encodeBatch, pushEnvelope, startWriterHarness, tradeBatch } from '../support/writer-harness.ts';

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a writer killed with SIGKILL in the middle of an insert loses nothing once restarted and redelivered', async (t) => {
  t.timeout(150_000);
  const t0 = Date.now();
  // A short ack deadline: should the emulator lose track of the push cut by the kill, it redelivers in 10 s.
  const h = await startWriterHarness({
    name: 'crash',
    pushSubscription: true,
    dedupWindowMs: 1,
    ackDeadlineSeconds: 10,
  });
  const started = Date.now() - t0;
  t.teardown(() => h.stop());
  const batches = [1, 2, 3].map((seq) =>
    tradeBatch('crashusdt', seq, seq * 1000, 300, { relayId: 'relay-crash' }),
  );
  const ids = batches.map((b) => batchId(b.relayId, b.stream, b.seq));

  // Every insert (insertAll or append) waits 2 s at the stand-in: the kill lands while one is in flight.
  h.standin.setFaults({ latencyMs: 2000, pathPattern: '(insertAll|appendRows)$' });
  for (const batch of batches) {
    const message = encodeBatch(batch);
    await h.topic!.publishMessage({ data: message.data, attributes: message.attributes });
  }
  await waitFor('an insert in flight', async () => h.standin.stats().faults.delayed > 0, 20_000);
  const killedAt = Date.now() - t0;
  await h.writer.kill();
  t.false(h.writer.running);
  const inFlightAtKill = h.standin.stats().faults.delayed;

  h.standin.clearFaults();
  await h.writer.start(); // same port: the push endpoint is unchanged
  await waitFor(
    'every batch committed after the restart',
    async () =>
      (await h.scalar(
        `SELECT COUNT(DISTINCT batch_id) FROM ${h.table('coverage')} WHERE batch_id IN (${ids.map((i) => `'${i}'`).join(',')})`,
      )) === ids.length,
    60_000,
  );
  const recoveredAt = Date.now() - t0;
  const stored = await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')} WHERE symbol = 'crashusdt'`);
  const raw = await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades')} WHERE symbol = 'crashusdt'`);
  t.is(stored, 900, 'nothing missing');
  t.is(
    await h.scalar(
      `SELECT COUNT(*) - COUNT(DISTINCT row_id) FROM ${h.table('trades_dedup')} WHERE symbol = 'crashusdt'`,
    ),
    0,
  );
  t.is(h.writer.startCount, 2);
  t.log(
    `${inFlightAtKill} insert request(s) in flight at the kill; ${raw} raw rows for 900 trades; ` +
      `started ${started} ms, killed at ${killedAt} ms, all committed at ${recoveredAt} ms`,
  );
});

test('a BigQuery that never answers gets a 503 within the delivery deadline, not a hung push', async (t) => {
  const h = await startWriterHarness({
    name: 'hang',
    writerEnv: { WRITER_INSERT_TIMEOUT_MS: '500', WRITER_DELIVERY_DEADLINE_MS: '2500' },
  });
  t.teardown(() => h.stop());
  h.standin.setFaults({ timeoutRate: 1, pathPattern: '(insertAll|appendRows)$' });
  const batch = tradeBatch('hangusdt', 1, 1, 10);
  const started = Date.now();
  const reply = await h.post(pushEnvelope(encodeBatch(batch), 'hang-1'));
  const elapsed = Date.now() - started;
  t.is(reply.status, 503);
  t.regex(String(reply.body?.detail), /deadline|attempts/);
  t.true(elapsed < 3500, `answered after ${elapsed} ms`);
  t.true(h.standin.stats().faults.timeouts >= 2, 'it retried within the budget');

  h.standin.clearFaults();
  t.is((await h.post(pushEnvelope(encodeBatch(batch), 'hang-1'))).status, 200, 'the redelivery commits');
});
