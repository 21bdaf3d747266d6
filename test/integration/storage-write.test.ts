/**
 * The Storage Write adapter through the real @google-cloud/bigquery-storage client against the stand-in's
 * gRPC BigQueryWrite service: rows land in the tables the REST API reads, row errors refuse only the
 * bad rows, a failed or unanswered append reports nothing stored, and ingestion is billed by each API's rule.
 */
import test from 'ava';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ingestWarehouse } from '../../functions/adapters/bigquery/ingest.ts';
import {
  createWriterClient,
  StorageWriteWarehouse,
} from '../../functions/adapters/bigquery/storage-write.ts';
import { isoToMicros } from '../../functions/adapters/bigquery/storage-write-rows.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { BigQueryWarehouse } from '../../functions/adapters/bigquery/warehouse.ts';
import type { WarehouseRow } from '../../functions/core/ports.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { WarehouseRequestError } from '../../functions/core/shared/warehouse-error.ts';
import { readGapfillConfig } from '../../functions/gapfill/config.ts';
import { readWriterConfig } from '../../functions/writer/config.ts';
import { startBigQueryStandin, type BigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import { uniqueName } from '../support/env.ts';

const PROJECT = 'tickstream-sw';
let standin: BigQueryStandin;

test.before(async () => {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  standin = await startBigQueryStandin({ projectId: PROJECT });
});
test.after.always(() => standin?.stop());

/** A fresh dataset, the REST warehouse on it and a Storage Write warehouse with `appendTimeoutMs`. */
async function bed(name: string, appendTimeoutMs = 5000) {
  const dataset = uniqueName(`sw_${name}`);
  const bigquery = createBigQueryClient(PROJECT, standin.url, { autoRetry: false });
  await ensureWarehouse(bigquery, PROJECT, dataset);
  const rest = new BigQueryWarehouse(bigquery, dataset, { transport: 'direct', requestTimeoutMs: 5000 });
  const client = createWriterClient(PROJECT, standin.storageHost);
  const warehouse = new StorageWriteWarehouse(client, PROJECT, dataset, rest, {
    appendTimeoutMs,
    logger: silentLogger,
  });
  const count = async (table: string, where = 'TRUE') =>
    Number(
      (
        await rest.query<{ n: number }>(
          `SELECT COUNT(*) AS n FROM \`${PROJECT}.${dataset}.${table}\` WHERE ${where}`,
        )
      )[0]?.n,
    );
  return { dataset, rest, warehouse, count };
}

/** 2026-12-07T10:00:00.123456Z, the trades' exchange time, in microseconds. */
const MICROS = Date.parse('2026-12-07T10:00:00.123Z') * 1000 + 456;

function trade(i: number, symbol: string, exchangeTs = '2026-12-07T10:00:00.123456Z'): WarehouseRow {
  const rowId = `binance:${symbol}:t:${i}`;
  return {
    insertId: rowId,
    json: {
      row_id: rowId,
      exchange: 'binance',
      symbol,
      trade_id: String(i),
      price: 37_000.5 + i,
      amount: 0.125,
      side: i % 2 ? 'buy' : 'sell',
      exchange_ts: exchangeTs,
      local_ts: '2026-12-07T10:00:00.223456Z',
      ingested_at: '2026-12-07T10:00:01.000Z',
      source: 'live',
      relay_id: i % 3 ? 'relay-1' : null,
      batch_id: `relay-1/binance:${symbol}:trade/${i}`,
    },
  };
}

test('rows of every kind appended through the client are read back exactly through the REST API', async (t) => {
  const b = await bed('roundtrip');
  t.teardown(() => b.warehouse.close());
  t.deepEqual(await b.warehouse.insert('trades', [trade(1, 'rtusdt'), trade(2, 'rtusdt')]), []);
  const book: WarehouseRow = {
    insertId: 'x',
    json: {
      ...trade(3, 'rtusdt').json,
      trade_id: undefined,
      price: undefined,
      amount: undefined,
      side: undefined,
      is_snapshot: true,
      bids: [
        { price: 100.5, amount: 2 },
        { price: 100, amount: 0.5 },
      ],
      asks: [],
    },
  };
  for (const key of ['trade_id', 'price', 'amount', 'side']) delete book.json[key];
  t.deepEqual(await b.warehouse.insert('book_changes', [book]), []);
  const coverage = {
    batch_id: 'relay-1/binance:rtusdt:trade/1',
    exchange: 'binance',
    symbol: 'rtusdt',
    data_type: 'trade',
    window_from: '2026-12-07T10:00:00.000Z',
    window_to: '2026-12-07T10:00:00.100Z',
    rows: 2,
    source: 'live',
    relay_id: 'relay-1',
    committed_at: '2026-12-07T10:00:02.000Z',
  };
  t.deepEqual(await b.warehouse.insert('coverage', [{ insertId: coverage.batch_id, json: coverage }]), []);

  const trades = await b.rest.query<Record<string, unknown>>(
    `SELECT row_id, price, relay_id, UNIX_MICROS(exchange_ts) AS ts FROM \`${PROJECT}.${b.dataset}.trades\` ORDER BY row_id`,
  );
  t.deepEqual(trades, [
    { row_id: 'binance:rtusdt:t:1', price: 37_001.5, relay_id: 'relay-1', ts: MICROS },
    { row_id: 'binance:rtusdt:t:2', price: 37_002.5, relay_id: 'relay-1', ts: MICROS },
  ]);
  const [levels] = await b.rest.query<{ bids: unknown; asks: unknown; is_snapshot: boolean }>(
    `SELECT bids, asks, is_snapshot FROM \`${PROJECT}.${b.dataset}.book_changes\``,
  );
  t.deepEqual(levels, {
    bids: [
      { price: 100.5, amount: 2 },
      { price: 100, amount: 0.5 },
    ],
    asks: [],
    is_snapshot: true,
  });
  t.is(await b.count('coverage', 'rows = 2'), 1);
});

test('an invalid row refuses only itself: the append stores nothing and its other rows are sent again', async (t) => {
  const b = await bed('rowerrors');
  t.teardown(() => b.warehouse.close());
  // Year 0 passes the client's encoding but not BigQuery's TIMESTAMP range: the service names the row.
  const rows = [trade(1, 'reusdt'), trade(2, 'reusdt', '0000-01-01T00:00:00Z'), trade(3, 'reusdt')];
  const failures = await b.warehouse.insert('trades', rows);
  t.deepEqual(
    failures.map((f) => [f.index, f.reason, f.retryable]),
    [
      [0, 'stopped', true],
      [1, 'invalid', false],
      [2, 'stopped', true],
    ],
  );
  t.regex(failures[1]!.message, /timestamp/i);
  t.is(await b.count('trades'), 0, 'an append is atomic');
  t.deepEqual(await b.warehouse.insert('trades', [rows[0]!, rows[2]!]), []);
  t.is(await b.count('trades'), 2);

  // A row the schema cannot express is refused before it is sent; the others of the call are stored.
  const local = await b.warehouse.insert('trades', [trade(4, 'reusdt', 'yesterday'), trade(5, 'reusdt')]);
  t.deepEqual(
    local.map((f) => [f.index, f.reason, f.retryable]),
    [[0, 'invalid', false]],
  );
  t.is(await b.count('trades'), 3);
});

test('a failed append and an unanswered one report nothing stored, and the next append is answered', async (t) => {
  const b = await bed('faults', 1500);
  t.teardown(() => {
    standin.clearFaults();
    b.warehouse.close();
  });
  const tablePattern = `/datasets/${b.dataset}/tables/trades/appendRows$`;
  standin.setFaults({ errorRate: 1, errorStatus: 503, pathPattern: tablePattern });
  const failed = await t.throwsAsync(b.warehouse.insert('trades', [trade(1, 'fausdt')]));
  t.true(failed instanceof WarehouseRequestError);
  t.like(failed, { kind: 'transient' });
  t.regex(failed!.message, /gRPC 14/);

  standin.setFaults({ timeoutRate: 1, pathPattern: tablePattern });
  const started = Date.now();
  const hung = await t.throwsAsync(b.warehouse.insert('trades', [trade(2, 'fausdt')]));
  t.like(hung, { kind: 'transient' });
  t.true(Date.now() - started < 5000, 'bounded by the append timeout');

  // The connection holding the unanswered append was dropped: a fresh one gets its own answers.
  standin.clearFaults();
  t.deepEqual(await b.warehouse.insert('trades', [trade(3, 'fausdt'), trade(4, 'fausdt')]), []);
  t.is(await b.count('trades'), 2);
});

// Serial: the counters are the stand-in's, shared with the other tests of this file.
test.serial(
  'ingestion is billed by each API: serialized proto bytes, against at least 1 KB per insertAll row',
  async (t) => {
    const b = await bed('billing');
    t.teardown(() => b.warehouse.close());
    const rows = Array.from({ length: 50 }, (_, i) => trade(i, 'biusdt'));
    const before = standin.stats().ingestion;
    await b.warehouse.insert('trades', rows);
    await b.rest.insert('trades', rows);
    const after = standin.stats().ingestion;
    const appended = after.storageWrite.billableBytes - before.storageWrite.billableBytes;
    const streamed = after.insertAll.billableBytes - before.insertAll.billableBytes;
    t.is(after.storageWrite.rows - before.storageWrite.rows, 50);
    t.is(after.insertAll.rows - before.insertAll.rows, 50);
    t.is(streamed, 50 * 1024, 'a trade row is far below 1 KB');
    t.true(appended > 50 * 100 && appended < 50 * 200, `${appended} bytes of proto rows`);
    t.log(`50 trades: Storage Write ${appended} B, insertAll ${streamed} B billed`);
  },
);

test('WRITER_INGEST selects the API, storage-write by default; a local endpoint needs the gRPC stand-in', async (t) => {
  const writerEnv = { GOOGLE_CLOUD_PROJECT: PROJECT, PUSH_AUTH: 'off' };
  t.is(readWriterConfig(writerEnv).ingest, 'storage-write');
  const local = { ...writerEnv, BIGQUERY_API_ENDPOINT: standin.url };
  t.throws(() => readWriterConfig(local), { message: /BIGQUERY_STORAGE_EMULATOR_HOST/ });
  t.is(readWriterConfig({ ...local, WRITER_INGEST: 'insert-all' }).ingest, 'insert-all');
  t.throws(() => readWriterConfig({ ...writerEnv, WRITER_INGEST: 'streaming' }), {
    message: /WRITER_INGEST/,
  });
  const gapfillEnv = { ...local, RELAY_STREAMS: 'binance:btcusdt:trade' };
  t.throws(() => readGapfillConfig(gapfillEnv), { message: /BIGQUERY_STORAGE_EMULATOR_HOST/ });
  const config = readGapfillConfig({ ...gapfillEnv, BIGQUERY_STORAGE_EMULATOR_HOST: standin.storageHost });
  const rest = new BigQueryWarehouse(createBigQueryClient(PROJECT, standin.url), 'd');
  const chosen = ingestWarehouse(config, rest, 1000, silentLogger);
  t.true(chosen instanceof StorageWriteWarehouse);
  chosen.close?.();
  t.is(ingestWarehouse({ ...config, ingest: 'insert-all' }, rest, 1000, silentLogger), rest);
});

test('timestamps go to proto rows as exact microseconds, across the epoch and past 2^53', (t) => {
  const cases: [string, string][] = [
    ['2026-12-07T10:00:00.123456Z', '1796637600123456'],
    ['1969-12-31T23:59:59.5Z', '-500000'],
    ['2026-12-07T11:00:00.000001+01:00', '1796637600000001'],
    ['9999-12-31T23:59:59.999999Z', '253402300799999999'],
  ];
  for (const [iso, micros] of cases) t.is(String(isoToMicros(iso)), micros, iso);
  t.is(isoToMicros('yesterday'), undefined);
  t.is(isoToMicros('2026-13-01T00:00:00Z'), undefined);
  t.is(isoToMicros('2026-02-29T00:00:00Z'), undefined, 'no 29 February in 2026');
  t.is(String(isoToMicros('2024-02-29T23:59:59.1234567Z')), '1709251199123456');
  t.is(isoToMicros('2026-12-07T10:00:00.Z'), undefined);
  t.is(isoToMicros('2026-12-07T10:00:00'), undefined, 'no zone');
});
