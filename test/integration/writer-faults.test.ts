import test from 'ava';
import { batchId } from '../../functions/core/contract/batch.ts';
import {
  encodeBatch,
  pushEnvelope,
  startWriterHarness,
  tradeBatch,
  type WriterHarness,
} from '../support/writer-harness.ts';

// One writer for the file; the stand-in remembers insertIds for 1 ms only, so the raw tables keep every
// redelivered copy (BigQuery's insertId dedup is best effort) and the dedup views must do the work.
let h: WriterHarness;

test.before(async () => {
  h = await startWriterHarness({
    name: 'faults',
    pushSubscription: true,
    dedupWindowMs: 1,
    recordRequests: true,
    // Two attempts per insert: with 30% of requests failing, 9% of inserts give up and answer 503, so
    // Pub/Sub redelivery (not only the in-process retry) is exercised.
    // These cases read the insertAll requests the writer sent: the fallback API is the one under test.
    writerEnv: {
      CHECKPOINT_MIN_INTERVAL_MS: '200',
      WRITER_INSERT_ATTEMPTS: '2',
      WRITER_INGEST: 'insert-all',
    },
  });
});
test.after.always(async () => {
  await h?.stop();
});
test.afterEach.always(() => {
  h?.standin.clearFaults();
});

const dedupCount = (where: string) =>
  h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')} WHERE ${where}`);

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test.serial(
  'with 30% of insertAll requests answered 503 for 20 s, every published tick lands exactly once',
  async (t) => {
    t.timeout(180_000);
    const symbols = ['f1btcusdt', 'f1ethusdt', 'f1solusdt'];
    h.standin.setFaults({ errorRate: 0.3, errorStatus: 503, pathPattern: 'insertAll$', seed: 20261126 });
    const started = Date.now();
    const now = Date.now();
    let seq = 0;
    const expected = new Map(symbols.map((s) => [s, { trades: 0, lastId: 0, coveredTo: 0 }]));
    const publishes: Promise<string>[] = [];
    // Ground truth: batches published by the test at ~30 per second for 20 s, 1-40 trades each.
    while (Date.now() - started < 20_000) {
      for (const symbol of symbols) {
        const e = expected.get(symbol)!;
        const count = 1 + ((seq * 7919) % 40);
        const batch = tradeBatch(symbol, seq, e.lastId + 1, count, { now, relayId: 'relay-f1' });
        e.trades += count;
        e.lastId += count;
        e.coveredTo = batch.window.to;
        const message = encodeBatch(batch);
        publishes.push(h.topic!.publishMessage({ data: message.data, attributes: message.attributes }));
      }
      seq++;
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(publishes);
    const faults = h.standin.stats().faults.errors;
    h.standin.clearFaults();
    const batches = publishes.length;
    const published = Date.now() - started;

    await waitFor(
      'every batch committed',
      async () =>
        (await h.scalar(
          `SELECT COUNT(DISTINCT batch_id) FROM ${h.table('coverage')} WHERE relay_id = 'relay-f1'`,
        )) === batches,
      60_000,
    );
    const committed = Date.now() - started;
    let total = 0;
    for (const [symbol, e] of expected) {
      t.is(await dedupCount(`symbol = '${symbol}'`), e.trades, `${symbol}: every trade present`);
      t.is(
        await dedupCount(`symbol = '${symbol}' AND CAST(trade_id AS INT64) BETWEEN 1 AND ${e.lastId}`),
        e.trades,
        `${symbol}: exactly the published ids`,
      );
      total += e.trades;
    }
    const dupInView = await h.scalar(
      `SELECT COUNT(*) - COUNT(DISTINCT row_id) FROM ${h.table('trades_dedup')} WHERE relay_id = 'relay-f1'`,
    );
    t.is(dupInView, 0, 'no duplicate in the dedup view');
    const rawCopies = await h.scalar(
      `SELECT COUNT(*) - COUNT(DISTINCT row_id) FROM ${h.table('trades')} WHERE relay_id = 'relay-f1'`,
    );
    for (const [symbol, e] of expected) {
      await waitFor(
        `checkpoint of ${symbol}`,
        async () => {
          const cp = await h.checkpoints.get({ exchange: 'binance', symbol, type: 'trade' });
          return cp?.lastTradeId === String(e.lastId) && cp.coveredTo === e.coveredTo;
        },
        10_000,
      );
    }
    t.true(faults > 0);
    t.log(
      `${batches} batches, ${total} trades, ${faults} injected 503s, ${rawCopies} extra raw copies from redeliveries ` +
        `and retries, all collapsed by trades_dedup (published by ${published} ms, committed by ${committed} ms)`,
    );
  },
);

test.serial(
  'only the rows the warehouse failed are sent again, and a permanently invalid one is quarantined',
  async (t) => {
    const batch = tradeBatch('f2btcusdt', 1, 1, 10, { relayId: 'relay-f2' });
    const [id3, id5, id7] = [batch.rowIds[2]!, batch.rowIds[4]!, batch.rowIds[6]!];
    h.standin.setFaults({
      insertErrors: [
        { insertIds: [id3, id7], reason: 'backendError', times: 1 },
        { insertIds: [id5], reason: 'invalid', message: 'no such field' },
      ],
    });
    const before = h.insertRequests.length;
    const reply = await h.post(pushEnvelope(encodeBatch(batch), 'f2-1'));
    t.is(reply.status, 200);
    t.like(reply.body, { outcome: 'committed', rows: 9, quarantined: 1 });
    const trades = h.insertRequests.slice(before).filter((r) => r.table === 'trades');
    t.deepEqual(
      trades.map((r) => r.insertIds),
      [batch.rowIds, [id3, id7]],
    );
    t.is(await dedupCount(`symbol = 'f2btcusdt'`), 9);
    const [rows] = await h.bigquery.query({
      query: `SELECT reason, detail, payload FROM ${h.table('quarantine')} WHERE message_id = 'f2-1'`,
      useLegacySql: false,
    });
    const [row] = rows as { reason: string; detail: string; payload: string }[];
    t.is(row?.reason, 'rejected_by_warehouse');
    t.regex(row?.detail ?? '', /invalid: no such field/);
    t.is(JSON.parse(row!.payload)[0], id5);
  },
);

test.serial(
  'an insert failure on the rows leaves no coverage row and no checkpoint for that batch',
  async (t) => {
    const batch = tradeBatch('f3btcusdt', 1, 1, 5, { relayId: 'relay-f3' });
    const id = batchId(batch.relayId, batch.stream, batch.seq);
    h.standin.setFaults({
      insertErrors: [{ match: { symbol: 'f3btcusdt' }, table: 'trades', reason: 'backendError' }],
    });
    const reply = await h.post(pushEnvelope(encodeBatch(batch), 'f3-1'));
    t.is(reply.status, 503);
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('coverage')} WHERE batch_id = '${id}'`), 0);
    t.is(await dedupCount(`symbol = 'f3btcusdt'`), 0);
    await new Promise((r) => setTimeout(r, 400)); // two checkpoint intervals
    t.is(await h.checkpoints.get(batch.stream), undefined);

    h.standin.clearFaults();
    t.is((await h.post(pushEnvelope(encodeBatch(batch), 'f3-1'))).status, 200, 'the redelivery commits');
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('coverage')} WHERE batch_id = '${id}'`), 1);
    t.is(await dedupCount(`symbol = 'f3btcusdt'`), 5);
  },
);

test.serial('the same batch delivered 5 times at once is one copy in the dedup view', async (t) => {
  const batch = tradeBatch('f4btcusdt', 1, 1, 200, { relayId: 'relay-f4' });
  const message = encodeBatch(batch);
  const replies = await Promise.all(
    Array.from({ length: 5 }, (_, i) => h.post(pushEnvelope(message, `f4-${i}`))),
  );
  t.deepEqual(
    replies.map((r) => r.status),
    [200, 200, 200, 200, 200],
  );
  t.is(await dedupCount(`symbol = 'f4btcusdt'`), 200);
  t.is(
    await h.scalar(
      `SELECT COUNT(*) - COUNT(DISTINCT row_id) FROM ${h.table('trades_dedup')} WHERE symbol = 'f4btcusdt'`,
    ),
    0,
  );
  const raw = await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades')} WHERE symbol = 'f4btcusdt'`);
  const coverage = await h.scalar(
    `SELECT COUNT(*) FROM ${h.table('coverage_dedup')} WHERE symbol = 'f4btcusdt'`,
  );
  t.is(coverage, 1);
  t.true(raw >= 200 && raw <= 1000);
  t.log(
    `5 concurrent deliveries of 200 trades: ${raw} raw rows (${raw - 200} raw duplicates), 200 in trades_dedup`,
  );
});
