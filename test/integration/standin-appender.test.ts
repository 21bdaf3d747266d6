// The BigQuery stand-in's appender path on an in-memory DuckDB: rows land whole or not at all.
import test from 'ava';
import { DuckDBInstance } from '@duckdb/node-api';
import { appendable, RowAppender } from '../../scripts/local/bigquery/row-appender.ts';
import { createTableSql, type BqField } from '../../scripts/local/bigquery/schema-types.ts';

const SCHEMA: BqField[] = [
  { name: 'row_id', type: 'STRING', mode: 'REQUIRED' },
  { name: 'n', type: 'INTEGER' },
  { name: 'price', type: 'FLOAT' },
  { name: 'ok', type: 'BOOLEAN' },
  { name: 'ts', type: 'TIMESTAMP', mode: 'REQUIRED' },
];

async function open() {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run('CREATE SCHEMA d');
  await conn.run(createTableSql('d', 't', SCHEMA));
  const count = async () => Number((await conn.runAndReadAll('SELECT COUNT(*) FROM d.t')).getRows()[0]![0]);
  return { conn, count, close: () => (conn.closeSync(), instance.closeSync()) };
}

test('flat schemas take the appender; repeated, record, JSON and BYTES columns do not', (t) => {
  t.true(appendable(SCHEMA));
  t.false(appendable([...SCHEMA, { name: 'tags', type: 'STRING', mode: 'REPEATED' }]));
  t.false(appendable([...SCHEMA, { name: 'doc', type: 'JSON' }]));
  t.false(appendable([...SCHEMA, { name: 'raw', type: 'BYTES' }]));
  t.false(appendable([...SCHEMA, { name: 'r', type: 'RECORD', fields: [{ name: 'a', type: 'STRING' }] }]));
});

test('appended rows are committed with their values as from_json would store them', async (t) => {
  const db = await open();
  t.teardown(db.close);
  await new RowAppender(db.conn).append('d', 't', SCHEMA, [
    { row_id: 'a', n: '9007199254740993', price: 'NaN', ok: true, ts: '2026-12-07 17:00:00.123456+00' },
    { row_id: 'b', n: null, price: 1.5, ts: '2026-12-07 17:00:01+00' },
  ]);
  const rows = (
    await db.conn.runAndReadAll('SELECT row_id, n::VARCHAR, price, ok, ts::VARCHAR FROM d.t ORDER BY row_id')
  ).getRows();
  t.deepEqual(rows, [
    ['a', '9007199254740993', Number.NaN, true, '2026-12-07 17:00:00.123456+00'],
    ['b', null, 1.5, null, '2026-12-07 17:00:01+00'],
  ]);
});

test('a request with a row DuckDB refuses stores none of its rows, and the next request still works', async (t) => {
  const db = await open();
  t.teardown(db.close);
  const appender = new RowAppender(db.conn);
  const good = { row_id: 'x', n: '1', price: 1, ok: false, ts: '2026-12-07 17:00:00+00' };
  // A NOT NULL column left empty fails at the flush, a bad cast in the middle of a row.
  await t.throwsAsync(appender.append('d', 't', SCHEMA, [good, { ...good, row_id: null }]));
  await t.throwsAsync(appender.append('d', 't', SCHEMA, [good, { ...good, n: 'not a number' }]));
  t.is(await db.count(), 0);
  await appender.append('d', 't', SCHEMA, [good]);
  t.is(await db.count(), 1);
});
