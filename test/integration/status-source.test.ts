// The status page's reads: its BigQuery queries against the stand-in (coverage merged per stream and
// source, quarantine counted per reason) and the bounded gap ledger read against the Firestore emulator.
process.env.METADATA_SERVER_DETECTION = 'none';

import test from 'ava';
import { Firestore } from '@google-cloud/firestore';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { BigQueryWarehouse } from '../../functions/adapters/bigquery/warehouse.ts';
import { FirestoreGapLedger } from '../../functions/adapters/firestore/gap-ledger.ts';
import { newGap } from '../../functions/core/gapfill/gaps.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import { startBigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import { StatusQueries } from '../../scripts/ops/status/queries.ts';
import { coverageRows } from '../support/coverage-rows.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

const PROJECT = 'status-source';
const T0 = Date.parse('2026-12-01T12:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const aaa: StreamKey = { exchange: 'binance', symbol: 'aaausdt', type: 'trade' };
const bbb: StreamKey = { exchange: 'binance', symbol: 'bbbusdt', type: 'trade' };

const coverageRow = coverageRows(T0);

const quarantineRow = (id: string, reason: string, s: StreamKey | null, receivedAt: number) => ({
  quarantine_id: id,
  reason,
  exchange: s?.exchange ?? null,
  symbol: s?.symbol ?? null,
  data_type: s?.type ?? null,
  payload: 'x',
  received_at: at(receivedAt),
});

test('coverage comes merged into intervals per stream and source; quarantine counted once per id by reason', async (t) => {
  const standin = await startBigQueryStandin({ projectId: PROJECT });
  t.teardown(() => standin.stop());
  const bq = createBigQueryClient(PROJECT, standin.url);
  const dataset = uniqueName('st').replace(/-/g, '_');
  await ensureWarehouse(bq, PROJECT, dataset);
  await bq
    .dataset(dataset)
    .table('coverage')
    .insert([
      // aaa: windows tiling [0, 3000), a redelivered copy, a hole [3000, 5000) backfilled, then live again.
      coverageRow(aaa, 'r/a/1', 0, 1000),
      coverageRow(aaa, 'r/a/2', 1000, 2000),
      coverageRow(aaa, 'r/a/2', 1000, 2000),
      coverageRow(aaa, 'r/a/3', 2000, 3000),
      coverageRow(aaa, 'gapfill/a', 3000, 5000, 'backfill'),
      coverageRow(aaa, 'r/a/4', 5000, 6000),
      // Started before the range, reaching into it: read.
      coverageRow(bbb, 'r/b/1', -5000, 500),
      // Ended before the range: not read.
      coverageRow(bbb, 'r/b/0', -9000, -6000),
      // A stream not asked for.
      coverageRow({ ...aaa, type: 'book_ticker' }, 'r/q/1', 0, 1000),
    ]);
  await bq
    .dataset(dataset)
    .table('quarantine')
    .insert([
      quarantineRow('q1', 'invalid_tick', aaa, 100),
      quarantineRow('q1', 'invalid_tick', aaa, 200),
      quarantineRow('q2', 'invalid_tick', aaa, 300),
      quarantineRow('msg:1', 'undecodable', null, 400),
      quarantineRow('q0', 'invalid_tick', aaa, -10_000),
    ]);
  const warehouse = new BigQueryWarehouse(bq, dataset, { transport: 'direct', queryTimeoutMs: 30_000 });
  const queries = new StatusQueries(warehouse, PROJECT, dataset, 2 ** 40);
  const range = { from: T0, to: T0 + 10_000 };

  const coverage = await queries.coverage([aaa, bbb], range);
  t.false(coverage.truncated);
  const key = (r: { stream: string; source: string; from: number; to: number; windows: number }) =>
    `${r.stream} ${r.source} ${r.from - T0}..${r.to - T0} x${r.windows}`;
  t.deepEqual(coverage.rows.map(key).sort(), [
    'binance:aaausdt:trade backfill 3000..5000 x1',
    'binance:aaausdt:trade live 0..3000 x3',
    'binance:aaausdt:trade live 5000..6000 x1',
    'binance:bbbusdt:trade live -5000..500 x1',
  ]);

  const quarantine = await queries.quarantine(range);
  t.deepEqual(
    quarantine.rows.map((q) => [q.stream, q.reason, q.count, q.lastAt - T0]),
    [
      ['binance:aaausdt:trade', 'invalid_tick', 2, 300],
      [null, 'undecodable', 1, 400],
    ],
  );
});

test('the ledger read for the page returns the gaps ending after a time, latest first, capped', async (t) => {
  const { projectId } = requireEmulators();
  const firestore = new Firestore({ projectId });
  t.teardown(() => firestore.terminate());
  const ledger = new FirestoreGapLedger(firestore, uniqueName('gaps'));
  for (const [from, to] of [
    [0, 1000],
    [2000, 3000],
    [4000, 5000],
    [6000, 7000],
  ] as const) {
    await ledger.record(newGap(aaa, T0 + from, T0 + to, 'coverage', T0));
  }
  const ends = async (since: number, limit: number) =>
    (await ledger.listEndingAfter(T0 + since, limit)).map((g) => g.to - T0);
  t.deepEqual(await ends(1000, 10), [7000, 5000, 3000], 'a gap ending at `since` is not after it');
  t.deepEqual(await ends(0, 2), [7000, 5000]);
  t.deepEqual(await ends(7000, 10), []);
});
