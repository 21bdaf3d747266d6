// The local BigQuery stand-in, driven by the real @google-cloud/bigquery client.
process.env.METADATA_SERVER_DETECTION = 'none';

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BigQuery, BigQueryOptions, TableMetadata } from '@google-cloud/bigquery';
import { scannedBytes } from '../../scripts/local/bigquery/bytes-processed.ts';
import { makeBigQueryClient } from '../../scripts/local/bigquery/client.ts';
import type { QueryParameter } from '../../scripts/local/bigquery/query-params.ts';
import type { BqField } from '../../scripts/local/bigquery/schema-types.ts';
import {
  startBigQueryStandin,
  type BigQueryStandin,
  type BigQueryStandinOptions,
} from '../../scripts/local/bigquery/server.ts';
import { rewriteSql } from '../../scripts/local/bigquery/sql-rewrite.ts';
import { Warehouse } from '../../scripts/local/bigquery/warehouse.ts';

const PROJECT = 'standin-test';
const MAIN = fileURLToPath(new URL('../../scripts/local/bigquery/main.ts', import.meta.url));

const TICK_SCHEMA = {
  fields: [
    { name: 'row_id', type: 'STRING', mode: 'REQUIRED' },
    { name: 'symbol', type: 'STRING' },
    { name: 'price', type: 'FLOAT64' },
    { name: 'ts', type: 'TIMESTAMP' },
    { name: 'ingested_at', type: 'TIMESTAMP' },
  ],
};

interface Started {
  standin: BigQueryStandin;
  bq: BigQuery;
}

/** A stand-in of the test's own (faults are per server), stopped when the test ends. */
async function startOwn(
  t: ExecutionContext,
  options: BigQueryStandinOptions = {},
  clientOptions: BigQueryOptions = {},
): Promise<Started> {
  const standin = await startBigQueryStandin({ projectId: PROJECT, ...options });
  t.teardown(() => standin.stop());
  return { standin, bq: makeBigQueryClient(standin.url, PROJECT, clientOptions) };
}

let shared: Started | undefined;
test.before(async () => {
  const standin = await startBigQueryStandin({ projectId: PROJECT });
  shared = { standin, bq: makeBigQueryClient(standin.url, PROJECT) };
});
test.after.always(async () => {
  await shared?.standin.stop();
});
const sharedBq = (): BigQuery => (shared as Started).bq;

const uniqueName = (prefix: string): string => `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

async function tickTable(
  t: ExecutionContext,
  bq: BigQuery,
  metadata: TableMetadata = { schema: TICK_SCHEMA },
) {
  const [dataset] = await bq.createDataset(uniqueName('ds'));
  t.teardown(() => dataset.delete({ force: true }).catch(() => undefined));
  const [table] = await dataset.createTable('ticks', metadata);
  return { dataset, table };
}

const countRows = async (bq: BigQuery, datasetId: string, tableId = 'ticks'): Promise<number> => {
  const [rows] = await bq.query(`SELECT COUNT(*) AS n FROM \`${PROJECT}.${datasetId}.${tableId}\``);
  return (rows[0] as { n: number }).n;
};

const tick = (rowId: string, extra: Record<string, unknown> = {}) => ({
  row_id: rowId,
  symbol: 'BTCUSDT',
  price: 37000.1,
  ts: '2024-01-02T03:04:05.123456Z',
  ingested_at: '2024-01-02 03:04:06.000001',
  ...extra,
});

interface PartialFailure {
  name: string;
  errors: { errors: { reason: string; message: string }[]; row: Record<string, unknown> }[];
}

test('a dataset and a partitioned, clustered table keep their layout when read back', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq, {
    schema: TICK_SCHEMA,
    timePartitioning: { type: 'DAY', field: 'ts' },
    clustering: { fields: ['symbol', 'row_id'] },
  });
  const [datasetMeta] = await bq.dataset(dataset.id as string).getMetadata();
  t.is(datasetMeta.datasetReference.datasetId, dataset.id);
  const [meta] = await bq
    .dataset(dataset.id as string)
    .table('ticks')
    .getMetadata();
  t.deepEqual(meta.timePartitioning, { type: 'DAY', field: 'ts' });
  t.deepEqual(meta.clustering, { fields: ['symbol', 'row_id'] });
  t.is(meta.numRows, '0');
  t.deepEqual(
    meta.schema.fields.map((f: { name: string; type: string }) => `${f.name}:${f.type}`),
    ['row_id:STRING', 'symbol:STRING', 'price:FLOAT', 'ts:TIMESTAMP', 'ingested_at:TIMESTAMP'],
  );
  const [exists] = await table.exists();
  t.true(exists);
});

test('creating a table twice is a 409 and reading a missing one is a 404', async (t) => {
  const bq = sharedBq();
  const { dataset } = await tickTable(t, bq);
  const duplicate = await t.throwsAsync(dataset.createTable('ticks', { schema: TICK_SCHEMA }));
  t.is((duplicate as unknown as { code: number }).code, 409);
  const missing = await t.throwsAsync(dataset.table('nope').getMetadata());
  t.is((missing as unknown as { code: number }).code, 404);
  const [exists] = await dataset.table('nope').exists();
  t.false(exists);
});

test('rows sent with insertAll come back from getRows with their types', async (t) => {
  const bq = sharedBq();
  const { table } = await tickTable(t, bq, {
    schema: {
      fields: [
        ...TICK_SCHEMA.fields,
        { name: 'seq', type: 'INT64' },
        { name: 'qty', type: 'NUMERIC' },
        { name: 'taker', type: 'BOOL' },
        { name: 'day', type: 'DATE' },
        { name: 'raw', type: 'JSON' },
        { name: 'blob', type: 'BYTES' },
      ],
    },
  });
  await table.insert([
    tick('a', { seq: 42, qty: '0.005', taker: true, day: '2024-01-02', raw: { p: '1' }, blob: 'aGk=' }),
    tick('b', { ts: 1704164645.5, seq: '7' }),
  ]);
  const [rows] = await table.getRows();
  const [a, b] = rows.sort((x, y) => String(x.row_id).localeCompare(String(y.row_id)));
  t.is(a.ts.value, '2024-01-02T03:04:05.123456000Z');
  t.is(a.ingested_at.value, '2024-01-02T03:04:06.000001000Z');
  t.is(a.seq, 42);
  t.is(a.qty.toString(), '0.005');
  t.true(a.taker);
  t.is(a.day.value, '2024-01-02');
  t.deepEqual(JSON.parse(a.raw), { p: '1' });
  t.is(Buffer.from(a.blob).toString(), 'hi');
  t.is(b.ts.value, '2024-01-02T03:04:05.500Z');
  t.is(b.seq, 7);
  t.is(b.qty, null);
});

test('a row re-sent with the same insertId within the window is stored once', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq);
  const rows = [
    { insertId: 'id-1', json: tick('r1') },
    { insertId: 'id-1', json: tick('r1') },
    { insertId: 'id-2', json: tick('r2') },
  ];
  await table.insert(rows, { raw: true });
  await table.insert(rows.slice(0, 1), { raw: true });
  t.is(await countRows(bq, dataset.id as string), 2);
});

test('a row re-sent after the dedup window is stored again', async (t) => {
  const { bq } = await startOwn(t, { dedupWindowMs: 150 });
  const { dataset, table } = await tickTable(t, bq);
  await table.insert([{ insertId: 'late', json: tick('r1') }], { raw: true });
  await new Promise((resolve) => setTimeout(resolve, 250));
  await table.insert([{ insertId: 'late', json: tick('r1') }], { raw: true });
  t.is(await countRows(bq, dataset.id as string), 2);
});

test('an invalid row stops the whole request: nothing is stored and the others are reported stopped', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq);
  const error = (await t.throwsAsync(
    table.insert(
      [tick('ok-1'), { ...tick('bad'), price: 'not a number' }, { symbol: 'no row_id' }, tick('ok-2')],
      {
        partialRetries: 0,
      },
    ),
  )) as unknown as PartialFailure;
  t.is(error.name, 'PartialFailureError');
  t.deepEqual(
    error.errors.map((e) => e.errors[0]?.reason),
    ['stopped', 'invalid', 'invalid', 'stopped'],
  );
  t.regex(error.errors[2]?.errors[0]?.message ?? '', /Missing required field: row_id/);
  t.is(await countRows(bq, dataset.id as string), 0);
});

test('with skipInvalidRows the valid rows are stored and only the invalid ones reported', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq);
  const error = (await t.throwsAsync(
    table.insert([tick('ok-1'), { ...tick('bad'), unknown_field: 1 }, tick('ok-2')], {
      skipInvalidRows: true,
      partialRetries: 0,
    }),
  )) as unknown as PartialFailure;
  t.is(error.errors.length, 1);
  t.is(error.errors[0]?.row.row_id, 'bad');
  t.regex(error.errors[0]?.errors[0]?.message ?? '', /no such field: unknown_field/);
  t.is(await countRows(bq, dataset.id as string), 2);
  await table.insert([{ ...tick('extra'), unknown_field: 1 }], { ignoreUnknownValues: true });
  t.is(await countRows(bq, dataset.id as string), 3);
});

test("injected insertErrors surface in the client's PartialFailureError for the chosen rows", async (t) => {
  const { standin, bq } = await startOwn(t);
  const { dataset, table } = await tickTable(t, bq);
  standin.setFaults({ insertErrors: [{ match: { symbol: 'ETHUSDT' }, reason: 'backendError' }] });
  const error = (await t.throwsAsync(
    table.insert([tick('btc'), tick('eth', { symbol: 'ETHUSDT' })], { partialRetries: 0 }),
  )) as unknown as PartialFailure;
  t.is(error.errors.length, 1);
  t.is(error.errors[0]?.row.row_id, 'eth');
  t.is(error.errors[0]?.errors[0]?.reason, 'backendError');
  // A transient row error leaves the other rows stored.
  t.is(await countRows(bq, dataset.id as string), 1);
  standin.setFaults({ insertErrors: [{ insertIds: ['doomed'], reason: 'invalid' }] });
  const stopped = (await t.throwsAsync(
    table.insert(
      [
        { insertId: 'fine', json: tick('fine') },
        { insertId: 'doomed', json: tick('doomed') },
      ],
      { raw: true, partialRetries: 0 },
    ),
  )) as unknown as PartialFailure;
  t.deepEqual(
    stopped.errors.map((e) => e.errors[0]?.reason),
    ['stopped', 'invalid'],
  );
  t.is(await countRows(bq, dataset.id as string), 1);
});

test("a transient injected row error fails once, then the client's partial retry stores the row", async (t) => {
  const { standin, bq } = await startOwn(t);
  const { dataset, table } = await tickTable(t, bq);
  standin.setFaults({ insertErrors: [{ match: { row_id: 'flaky' }, reason: 'timeout', times: 1 }] });
  await table.insert([tick('steady'), tick('flaky')]);
  t.is(await countRows(bq, dataset.id as string), 2);
  t.is(standin.stats().faults.insertErrors, 1);
  t.is(standin.faults().insertErrors?.[0]?.times, 0);
});

test('a dedup view with QUALIFY returns one row per row_id', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq);
  await table.insert([
    tick('r1', { ingested_at: '2024-01-02T00:00:02Z', price: 2 }),
    tick('r1', { ingested_at: '2024-01-02T00:00:01Z', price: 1 }),
    tick('r2'),
    tick('r2'),
    tick('r3'),
  ]);
  const source = `\`${PROJECT}.${dataset.id}.ticks\``;
  await dataset.createTable('ticks_dedup', {
    view: {
      query: `SELECT * FROM ${source} WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY row_id ORDER BY ingested_at) = 1`,
      useLegacySql: false,
    },
  });
  const [viewMeta] = await dataset.table('ticks_dedup').getMetadata();
  t.is(viewMeta.type, 'VIEW');
  t.true(viewMeta.schema.fields.some((f: { name: string }) => f.name === 'row_id'));
  const [rows] = await bq.query(`SELECT row_id, price FROM \`${dataset.id}.ticks_dedup\` ORDER BY row_id`);
  t.deepEqual(
    rows.map((r) => r.row_id),
    ['r1', 'r2', 'r3'],
  );
  t.is(rows[0].price, 1);
  const [[counts]] = await bq.query(
    `SELECT COUNT(*) AS total, COUNT(DISTINCT row_id) AS ids FROM ${dataset.id}.ticks`,
  );
  t.deepEqual(counts, { total: 5, ids: 3 });
});

test('queries take named parameters and compare timestamps at microsecond precision', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq);
  await table.insert([
    tick('early', { ts: '2024-01-02 03:04:05.000001' }),
    tick('late', { ts: '2024-01-02T03:04:05.000002Z', symbol: 'ETHUSDT', price: 2200.5 }),
    tick('later', { ts: '2024-01-02T04:00:00+01:00', symbol: 'ETHUSDT', price: 2300 }),
  ]);
  const [rows] = await bq.query({
    query:
      `SELECT symbol, COUNT(*) AS n, MAX(price) AS top, MIN(UNIX_MICROS(ts)) AS first_us ` +
      `FROM \`${dataset.id}.ticks\` WHERE ts > @since AND symbol = @symbol AND price > @floor ` +
      `AND ts <= TIMESTAMP_MICROS(@until_us) GROUP BY symbol`,
    params: {
      since: bq.timestamp('2024-01-02T03:04:05.000001Z'),
      symbol: 'ETHUSDT',
      floor: 100.5,
      until_us: bq.int('1704164645000002'),
    },
  });
  t.deepEqual(rows, [{ symbol: 'ETHUSDT', n: 1, top: 2200.5, first_us: 1704164645000002 }]);
  const [[row]] = await bq.query(
    `SELECT TIMESTAMP('2024-01-02 03:00:00+00') AS at, CURRENT_TIMESTAMP() > TIMESTAMP_MILLIS(0) AS now_ok, ` +
      `SAFE_CAST('x' AS INT64) AS bad, TIMESTAMP_DIFF(TIMESTAMP '2024-01-02 01:00:00+00', TIMESTAMP '2024-01-02 00:00:00+00', MINUTE) AS mins`,
  );
  t.is(row.at.value, '2024-01-02T03:00:00.000Z');
  t.true(row.now_ok);
  t.is(row.bad, null);
  t.is(row.mins, 60);
});

test('a REPEATED RECORD column round-trips through insertAll, getRows and a query', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq, {
    schema: {
      fields: [
        { name: 'row_id', type: 'STRING', mode: 'REQUIRED' },
        {
          name: 'bids',
          type: 'RECORD',
          mode: 'REPEATED',
          fields: [
            { name: 'price', type: 'FLOAT64', mode: 'REQUIRED' },
            { name: 'amount', type: 'FLOAT64' },
          ],
        },
        { name: 'tags', type: 'STRING', mode: 'REPEATED' },
      ],
    },
  });
  await table.insert([
    {
      row_id: 'book',
      bids: [
        { price: 100.5, amount: 1 },
        { price: 100.25, amount: 0.5 },
      ],
      tags: ['a', 'b'],
    },
    { row_id: 'empty', bids: [] },
  ]);
  const [rows] = await table.getRows();
  const book = rows.find((r) => r.row_id === 'book');
  t.deepEqual(book, {
    row_id: 'book',
    bids: [
      { price: 100.5, amount: 1 },
      { price: 100.25, amount: 0.5 },
    ],
    tags: ['a', 'b'],
  });
  t.deepEqual(rows.find((r) => r.row_id === 'empty')?.bids, []);
  const [[queried]] = await bq.query(
    `SELECT bids, ARRAY_LENGTH(bids) AS levels FROM \`${dataset.id}.ticks\` WHERE row_id = 'book'`,
  );
  t.deepEqual(queried, { bids: book?.bids, levels: 2 });
  const error = (await t.throwsAsync(
    table.insert([{ row_id: 'bad', bids: [{ amount: 1 }] }], { partialRetries: 0 }),
  )) as unknown as PartialFailure;
  t.regex(error.errors[0]?.errors[0]?.message ?? '', /Missing required field: bids.price/);
});

test('createQueryJob pages through results and DML reports the rows it changed', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq);
  await table.insert(Array.from({ length: 25 }, (_, i) => tick(`r${String(i).padStart(2, '0')}`)));
  const [job] = await bq.createQueryJob({ query: `SELECT row_id FROM ${dataset.id}.ticks ORDER BY row_id` });
  const [firstPage, next] = await job.getQueryResults({ maxResults: 10, autoPaginate: false });
  t.is(firstPage.length, 10);
  t.truthy(next);
  const [all] = await job.getQueryResults();
  t.is(all.length, 25);
  t.is(all[24].row_id, 'r24');
  const [dmlJob] = await bq.createQueryJob({
    query: `DELETE ${dataset.id}.ticks WHERE row_id < @cut`,
    params: { cut: 'r05' },
  });
  const [dmlMeta] = await dmlJob.getMetadata();
  t.is(dmlMeta.statistics.query.numDmlAffectedRows, '5');
  t.is(await countRows(bq, dataset.id as string), 20);
  const badJob = await t.throwsAsync(bq.createQueryJob({ query: 'SELECT FROM WHERE' }));
  t.regex(badJob?.message ?? '', /syntax error/i);
});

test('errorRate 1.0 answers 503 to the client and clearing the faults over HTTP restores service', async (t) => {
  const { standin, bq } = await startOwn(t, {}, { retryOptions: { autoRetry: false } });
  await bq.createDataset(uniqueName('ds'));
  const set = await fetch(`${standin.url}/_standin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errorRate: 1, errorStatus: 503, pathPattern: '/datasets' }),
  });
  t.is(set.status, 200);
  const error = await t.throwsAsync(bq.getDatasets());
  t.is((error as unknown as { code: number }).code, 503);
  const cleared = await fetch(`${standin.url}/_standin/faults`, { method: 'DELETE' });
  t.is(cleared.status, 204);
  const [datasets] = await bq.getDatasets();
  t.is(datasets.length, 1);
  const stats = (await (await fetch(`${standin.url}/_standin/stats`)).json()) as {
    faults: { errors: number };
  };
  t.is(stats.faults.errors, 1);
});

test('a seeded errorRate injects the same faults in the same order on every run', async (t) => {
  const outcomes = async (): Promise<number[]> => {
    const { standin } = await startOwn(t, { faults: { errorRate: 0.5, errorStatus: [500, 429], seed: 7 } });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await fetch(`${standin.url}/bigquery/v2/projects/${PROJECT}/datasets`)).status);
    }
    return statuses;
  };
  const first = await outcomes();
  t.deepEqual(await outcomes(), first);
  t.true(first.includes(200));
  t.true(first.some((s) => s === 500 || s === 429));
});

test('latencyMs delays each matching request', async (t) => {
  const { standin, bq } = await startOwn(t);
  standin.setFaults({ latencyMs: 300, pathPattern: 'datasets$', methods: ['GET'] });
  const started = performance.now();
  await bq.getDatasets();
  t.true(performance.now() - started >= 290);
  t.is(standin.stats().faults.delayed, 1);
  standin.clearFaults();
  await bq.getDatasets();
  await bq.createDataset(uniqueName('ds'));
  t.is(standin.stats().faults.delayed, 1);
});

test('file-backed storage keeps datasets, tables and rows across a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bq-standin-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'warehouse.duckdb');
  const first = await startBigQueryStandin({ projectId: PROJECT, dbPath });
  try {
    const bq = makeBigQueryClient(first.url, PROJECT);
    const [dataset] = await bq.createDataset('kept');
    const [table] = await dataset.createTable('ticks', {
      schema: TICK_SCHEMA,
      timePartitioning: { type: 'DAY', field: 'ts' },
    });
    await table.insert([tick('survivor')]);
  } finally {
    await first.stop();
  }
  const { bq } = await startOwn(t, { dbPath });
  const [meta] = await bq.dataset('kept').table('ticks').getMetadata();
  t.deepEqual(meta.timePartitioning, { type: 'DAY', field: 'ts' });
  const [rows] = await bq.dataset('kept').table('ticks').getRows();
  t.deepEqual(
    rows.map((r) => [r.row_id, r.ts.value]),
    [['survivor', '2024-01-02T03:04:05.123456000Z']],
  );
});

test('stop() ends a hung request and closes the server', async (t) => {
  const standin = await startBigQueryStandin({ projectId: PROJECT, faults: { timeoutRate: 1 } });
  t.teardown(() => standin.stop());
  const bq = makeBigQueryClient(standin.url, PROJECT, { retryOptions: { autoRetry: false } });
  const pending = bq.getDatasets();
  pending.catch(() => undefined);
  while (standin.stats().hungRequests === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const started = performance.now();
  await standin.stop();
  await standin.stop();
  t.true(performance.now() - started < 2000);
  await t.throwsAsync(pending);
  await t.throwsAsync(fetch(`${standin.url}/_standin/health`));
});

test('the CLI prints its URL as one JSON line and stops on SIGTERM', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', '--project', PROJECT], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout });
  const ready = JSON.parse(await new Promise<string>((resolve) => lines.once('line', resolve))) as {
    url: string;
  };
  t.regex(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${ready.url}/_standin/health`);
  t.is(health.status, 200);
  child.kill('SIGTERM');
  t.is(await exited, 0);
});

test('DML and DDL run through query: INSERT, MERGE, UPDATE and CREATE OR REPLACE VIEW', async (t) => {
  const bq = sharedBq();
  const { dataset } = await tickTable(t, bq);
  const ds = dataset.id as string;
  const [inserted] = await bq.createQueryJob({
    query: `INSERT \`${PROJECT}.${ds}.ticks\` (row_id, symbol, price, ts) VALUES ('a', 'X', 1.0, TIMESTAMP '2024-01-01 00:00:00+00'), ('b', 'X', 2.0, CURRENT_TIMESTAMP())`,
  });
  t.is((await inserted.getMetadata())[0].statistics.query.numDmlAffectedRows, '2');
  await bq.query(
    `MERGE ${ds}.ticks T USING (SELECT 'b' AS row_id, 5.0 AS price UNION ALL SELECT 'c', 6.0) S ON T.row_id = S.row_id ` +
      'WHEN MATCHED THEN UPDATE SET price = S.price WHEN NOT MATCHED THEN INSERT (row_id, price) VALUES (S.row_id, S.price)',
  );
  await bq.query({
    query: `UPDATE ${ds}.ticks SET symbol = 'Y' WHERE row_id IN UNNEST(@ids)`,
    params: { ids: ['a', 'c'] },
  });
  await bq.query(
    `CREATE OR REPLACE VIEW \`${ds}.by_symbol\` AS SELECT symbol, SUM(price) AS total FROM ${ds}.ticks GROUP BY symbol`,
  );
  const [meta] = await dataset.table('by_symbol').getMetadata();
  t.is(meta.type, 'VIEW');
  const [rows] = await bq.query(`SELECT * FROM ${ds}.by_symbol ORDER BY symbol`);
  t.deepEqual(rows, [
    { symbol: 'X', total: 5 },
    { symbol: 'Y', total: 7 },
  ]);
});

const BYTES_SCHEMA: BqField[] = [
  { name: 'row_id', type: 'STRING', mode: 'REQUIRED' },
  { name: 'symbol', type: 'STRING' },
  { name: 'price', type: 'FLOAT' },
  { name: 'flag', type: 'BOOLEAN' },
  {
    name: 'levels',
    type: 'RECORD',
    mode: 'REPEATED',
    fields: [
      { name: 'price', type: 'FLOAT' },
      { name: 'amount', type: 'FLOAT' },
    ],
  },
  { name: 'ts', type: 'TIMESTAMP' },
  { name: 'ingested_at', type: 'TIMESTAMP' },
];

const timestampParam = (name: string, value: string): QueryParameter => ({
  name,
  parameterType: { type: 'TIMESTAMP' },
  parameterValue: { value },
});

test('the bytes model counts the columns read at their data sizes, in the partitions a filter on the partitioning column selects, and none through a dedup view', async (t) => {
  const warehouse = await Warehouse.open(undefined, PROJECT);
  t.teardown(() => warehouse.close());
  await warehouse.createDataset('d', {});
  await warehouse.createTable(
    'd',
    't',
    { timePartitioning: { type: 'DAY', field: 'ts' } },
    { schema: BYTES_SCHEMA },
  );
  // Per row: row_id 2 + 2, symbol 2 + UTF-8 bytes ('é' is 2) or 0 when NULL, price 8, flag 1 or 0 when
  // NULL, levels 16 per element, ts 8, ingested_at 8.
  await warehouse.query(
    `INSERT INTO d.t VALUES ` +
      `('r1', 'btc', 1, true, [{'price': 1, 'amount': 2}], '2024-01-01 10:00:00+00', '2024-01-01 10:00:01+00'), ` +
      `('r2', 'é', 2, NULL, [], '2024-01-02 10:00:00+00', '2024-01-02 10:00:01+00'), ` +
      `('r3', NULL, 3, false, [{'price': 1, 'amount': 2}, {'price': 3, 'amount': NULL}], '2024-01-03 10:00:00+00', '2024-01-03 10:00:01+00')`,
    undefined,
  );
  const dedupSql = `SELECT * FROM \`${PROJECT}.d.t\` WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY row_id ORDER BY ingested_at) = 1`;
  for (const [view, query] of [
    ['t_dedup', dedupSql],
    ['t_plain', `SELECT * FROM \`${PROJECT}.d.t\``],
    ['t_by_ts', `SELECT *, ROW_NUMBER() OVER (PARTITION BY ts ORDER BY row_id) AS n FROM \`${PROJECT}.d.t\``],
    ['t_ranked', `SELECT *, RANK() OVER (ORDER BY ts) AS n FROM \`${PROJECT}.d.t\``],
  ] as const) {
    await warehouse.createTable('d', view, { view: { query } }, { viewSql: rewriteSql(query).sql });
  }
  const day2 = [
    timestampParam('a', '2024-01-02 00:00:00+00:00'),
    timestampParam('b', '2024-01-02 12:00:00+00:00'),
  ];
  const scanned = async (sql: string, params: QueryParameter[] = []) =>
    Object.fromEntries(await scannedBytes(warehouse, sql, params, undefined));

  t.deepEqual(await scanned(`SELECT symbol, price FROM \`${PROJECT}.d.t\``), { 'd.t': 5 + 4 + 0 + 24 });
  t.deepEqual(await scanned('SELECT levels FROM d.t'), { 'd.t': 16 + 0 + 24 });
  t.deepEqual(await scanned('SELECT SUM(price) FROM d.t WHERE ts >= @a AND ts < @b', day2), { 'd.t': 8 + 8 });
  t.deepEqual(
    await scanned(
      "SELECT row_id FROM d.t WHERE ts BETWEEN TIMESTAMP '2024-01-01 00:00:00+00' AND TIMESTAMP '2024-01-02 00:00:00+00'",
    ),
    { 'd.t': 4 + 4 + 8 + 8 },
    'BETWEEN includes its upper bound: the second day is read',
  );
  t.deepEqual(await scanned('SELECT * FROM d.t WHERE ts >= @a', day2), {
    'd.t': 12 + 9 + 24 + 2 + 40 + 24 + 24,
  });
  t.deepEqual(await scanned('SELECT price FROM d.t WHERE ts >= @a AND ts < @b OR price > 2', day2), {
    'd.t': 24 + 24,
  });
  t.deepEqual(
    await scanned('SELECT price FROM d.t_dedup WHERE ts >= @a AND ts < @b', day2),
    { 'd.t': 24 + 24 + 12 + 24 },
    'the window partitions by row_id: every partition, with the columns it reads',
  );
  t.deepEqual(await scanned('SELECT price FROM d.t_plain WHERE ts >= @a AND ts < @b', day2), {
    'd.t': 8 + 8,
  });
  t.deepEqual(
    await scanned('SELECT price FROM d.t_by_ts WHERE ts >= @a AND ts < @b', day2),
    { 'd.t': 8 + 8 + 4 },
    'a window partitioned by the partitioning column keeps the pruning',
  );
  t.deepEqual(
    await scanned('SELECT price FROM d.t_ranked WHERE ts >= @a AND ts < @b', day2),
    { 'd.t': 24 + 24 },
    'a window over all rows reads every partition',
  );
  t.deepEqual(await scanned('SELECT 1 AS one'), {});
});

test('a query and a dry run report totalBytesProcessed, at least 10 MiB per table, and maximumBytesBilled refuses a query that would bill more', async (t) => {
  const bq = sharedBq();
  const { dataset, table } = await tickTable(t, bq, {
    schema: TICK_SCHEMA,
    timePartitioning: { type: 'DAY', field: 'ts' },
  });
  await table.insert([tick('r1'), tick('r2')]);
  const tenMiB = String(10 * 1024 * 1024);
  const source = `\`${PROJECT}.${dataset.id}.ticks\``;
  const [job] = await bq.createQueryJob({ query: `SELECT price FROM ${source}` });
  await job.getQueryResults();
  const [metadata] = await job.getMetadata();
  t.is(metadata.statistics.totalBytesProcessed, tenMiB);
  t.is(metadata.statistics.query.totalBytesBilled, tenMiB);

  const [dry] = await bq.createQueryJob({
    query: `SELECT a.price FROM ${source} AS a JOIN \`${PROJECT}.${dataset.id}.other\` AS b ON a.row_id = b.row_id`,
    dryRun: true,
  });
  t.is(dry.metadata.statistics.totalBytesProcessed, tenMiB, 'a table that does not exist counts nothing');
  await dataset.createTable('other', { schema: TICK_SCHEMA });
  const [dryJoin] = await bq.createQueryJob({
    query: `SELECT a.price FROM ${source} AS a JOIN \`${PROJECT}.${dataset.id}.other\` AS b ON a.row_id = b.row_id`,
    dryRun: true,
  });
  t.is(dryJoin.metadata.statistics.totalBytesProcessed, String(20 * 1024 * 1024));

  const refused = await t.throwsAsync(
    bq.query({ query: `SELECT price FROM ${source}`, maximumBytesBilled: '1000' }),
  );
  t.regex(
    refused?.message ?? '',
    /Query exceeded limit for bytes billed: 1000\. 10485760 or higher required/,
  );
  const [rows] = await bq.query({ query: `SELECT price FROM ${source}`, maximumBytesBilled: tenMiB });
  t.is(rows.length, 2);
});

test('the bytes model counts, below a subquery that names its columns, only those columns, and MERGE replaces a partition with INSERT ROW', async (t) => {
  const warehouse = await Warehouse.open(undefined, PROJECT);
  t.teardown(() => warehouse.close());
  await warehouse.createDataset('d', {});
  for (const table of ['t', 'u']) {
    await warehouse.createTable(
      'd',
      table,
      { timePartitioning: { type: 'DAY', field: 'ts' } },
      { schema: BYTES_SCHEMA },
    );
  }
  await warehouse.query(
    `INSERT INTO d.t VALUES ` +
      `('r1', 'btc', 1, true, [{'price': 1, 'amount': 2}], '2024-01-01 10:00:00+00', '2024-01-01 10:00:01+00'), ` +
      `('r2', 'eth', 2, NULL, [], '2024-01-02 10:00:00+00', '2024-01-02 10:00:01+00')`,
    undefined,
  );
  // Per row: row_id 4, ts 8; the whole row of r1 is 4 + 5 + 8 + 1 + 16 + 8 + 8 = 50. Each row of a
  // column counts once, whichever branch reads it.
  const narrow = 'SELECT * FROM (SELECT row_id, ts FROM d.t)';
  t.deepEqual(Object.fromEntries(await scannedBytes(warehouse, narrow, [], undefined)), { 'd.t': 24 });
  const mixed =
    'SELECT * FROM (SELECT row_id, ts, NULL AS s FROM d.t UNION ALL SELECT row_id, ts, symbol FROM d.t ' +
    "WHERE ts >= TIMESTAMP '2024-01-01 00:00:00+00' AND ts < TIMESTAMP '2024-01-02 00:00:00+00')";
  t.deepEqual(Object.fromEntries(await scannedBytes(warehouse, mixed, [], undefined)), { 'd.t': 24 + 5 });
  const merge =
    "MERGE `p.d.u` AS s USING (SELECT * FROM d.t WHERE ts >= TIMESTAMP '2024-01-01 00:00:00+00' AND " +
    "ts < TIMESTAMP '2024-01-02 00:00:00+00') AS n ON FALSE WHEN NOT MATCHED BY SOURCE AND " +
    "s.ts >= TIMESTAMP '2024-01-01 00:00:00+00' AND s.ts < TIMESTAMP '2024-01-02 00:00:00+00' THEN DELETE " +
    'WHEN NOT MATCHED THEN INSERT ROW';
  for (let run = 0; run < 2; run++) {
    await warehouse.query(rewriteSql(merge, { projectIds: ['p'] }).sql, undefined);
    const rows = (await warehouse.query('SELECT row_id FROM d.u ORDER BY row_id', undefined)).rows;
    t.deepEqual(rows, [['r1']], `run ${run + 1}`);
  }
});
