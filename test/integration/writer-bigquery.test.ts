import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { BigQueryWarehouse } from '../../functions/adapters/bigquery/warehouse.ts';
import type { WarehouseRow } from '../../functions/core/ports.ts';
import { WarehouseRequestError } from '../../functions/core/shared/warehouse-error.ts';
import { startBigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import { uniqueName } from '../support/env.ts';

const PROJECT = 'tickstream-test';

function rows(n: number, symbol = 'bqusdt'): WarehouseRow[] {
  return Array.from({ length: n }, (_, i) => ({
    insertId: `binance:${symbol}:t:${i}`,
    json: {
      row_id: `binance:${symbol}:t:${i}`,
      exchange: 'binance',
      symbol,
      trade_id: String(i),
      price: 100 + i,
      amount: 1,
      side: 'buy',
      exchange_ts: '2026-11-26T10:00:00.000001Z',
      local_ts: '2026-11-26T10:00:00.000002Z',
      ingested_at: '2026-11-26T10:00:01.000Z',
      source: 'live',
      relay_id: 'r',
      batch_id: 'b',
    },
  }));
}

for (const transport of ['direct', 'client'] as const) {
  test(`insertAll (${transport}): partial failures come back per row index, retryable unless invalid`, async (t) => {
    process.env.METADATA_SERVER_DETECTION ??= 'none';
    const standin = await startBigQueryStandin({ projectId: PROJECT });
    t.teardown(() => standin.stop());
    const dataset = uniqueName(`bq_${transport}`);
    const client = createBigQueryClient(PROJECT, standin.url, { autoRetry: false });
    await ensureWarehouse(client, PROJECT, dataset);
    const warehouse = new BigQueryWarehouse(client, dataset, { transport, requestTimeoutMs: 2000 });
    const batch = rows(6);
    standin.setFaults({
      insertErrors: [
        { insertIds: [batch[1]!.insertId], reason: 'backendError' },
        { insertIds: [batch[4]!.insertId], reason: 'invalid', message: 'bad row' },
      ],
    });
    const failures = await warehouse.insert('trades', batch);
    t.deepEqual(
      failures.map((f) => [f.index, f.reason, f.retryable]),
      [
        [1, 'backendError', true],
        [4, 'invalid', false],
      ],
    );
    standin.clearFaults();
    const [stored] = await client.query({
      query: `SELECT COUNT(*) AS n FROM \`${PROJECT}.${dataset}.trades\``,
    });
    t.is(Number((stored as { n: number }[])[0]?.n), 4);
  });

  test(`insertAll (${transport}): with autoRetry off a 503 is one request, and a hang ends at the timeout`, async (t) => {
    const standin = await startBigQueryStandin({ projectId: PROJECT });
    t.teardown(() => standin.stop());
    const dataset = uniqueName(`bq_retry_${transport}`);
    const client = createBigQueryClient(PROJECT, standin.url, { autoRetry: false });
    await ensureWarehouse(client, PROJECT, dataset);
    const warehouse = new BigQueryWarehouse(client, dataset, { transport, requestTimeoutMs: 500 });
    standin.setFaults({ errorRate: 1, errorStatus: 503, pathPattern: 'insertAll$' });
    standin.resetStats();
    const error = await t.throwsAsync(warehouse.insert('trades', rows(2)));
    t.true(error instanceof WarehouseRequestError);
    t.like(error, { kind: 'transient', status: 503 });
    t.is(
      standin.stats().byRoute['tabledata.insertAll'] ?? standin.stats().faults.errors,
      1,
      'no hidden retry',
    );

    standin.setFaults({ timeoutRate: 1, pathPattern: 'insertAll$' });
    const started = Date.now();
    const hung = await t.throwsAsync(warehouse.insert('trades', rows(2)));
    t.like(hung, { kind: 'transient' });
    t.true(Date.now() - started < 3000, 'bounded by the request timeout');
  });
}

test('insertAll errors are classified: 413 and "exceeds the limit" are too large, the rest transient', async (t) => {
  let answer = { status: 413, body: '{"error":{"code":413,"message":"Request Entity Too Large"}}' };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const transport of ['direct', 'client'] as const) {
    const warehouse = new BigQueryWarehouse(createBigQueryClient(PROJECT, url, { autoRetry: false }), 'd', {
      transport,
    });
    answer = { status: 413, body: '{"error":{"code":413,"message":"Request Entity Too Large"}}' };
    t.like(
      await t.throwsAsync(warehouse.insert('trades', rows(1))),
      { kind: 'too_large', status: 413 },
      transport,
    );
    answer = {
      status: 400,
      body: '{"error":{"code":400,"message":"Request payload size exceeds the limit: 10485760 bytes."}}',
    };
    t.like(
      await t.throwsAsync(warehouse.insert('trades', rows(1))),
      { kind: 'too_large', status: 400 },
      transport,
    );
    answer = { status: 404, body: '{"error":{"code":404,"message":"Not found: Table p:d.trades"}}' };
    t.like(
      await t.throwsAsync(warehouse.insert('trades', rows(1))),
      { kind: 'transient', status: 404 },
      transport,
    );
    answer = { status: 429, body: '{"error":{"code":429,"message":"quota"}}' };
    t.like(
      await t.throwsAsync(warehouse.insert('trades', rows(1))),
      { kind: 'transient', status: 429 },
      transport,
    );
  }
});
