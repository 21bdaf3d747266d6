// BigQueryGapQueries against the BigQuery stand-in: one query per kind for all streams, split back per stream.
process.env.METADATA_SERVER_DETECTION = 'none';

import test from 'ava';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { BigQueryGapQueries } from '../../functions/adapters/bigquery/gap-queries.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { BigQueryWarehouse } from '../../functions/adapters/bigquery/warehouse.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import { startBigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import { coverageRows } from '../support/coverage-rows.ts';
import { uniqueName } from '../support/env.ts';

const PROJECT = 'gap-queries';
const T0 = Date.parse('2026-12-01T12:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const aaa: StreamKey = { exchange: 'binance', symbol: 'aaausdt', type: 'trade' };
const bbb: StreamKey = { exchange: 'coinbase', symbol: 'bbb-usd', type: 'trade' };
/** Not asked for, yet inside the cluster filters' cross product (binance x bbb-usd) or of another type. */
const strangers: StreamKey[] = [
  { exchange: 'binance', symbol: 'bbb-usd', type: 'trade' },
  { ...aaa, type: 'book_ticker' },
];

const coverageRow = coverageRows(T0);

const tradeRow = (s: StreamKey, id: number, receivedAt: number, ingestedAt: number) => ({
  row_id: `${s.exchange}:${s.symbol}:t:${id}`,
  exchange: s.exchange,
  symbol: s.symbol,
  trade_id: String(id),
  price: 1,
  amount: 1,
  side: 'buy',
  exchange_ts: at(receivedAt - 5),
  local_ts: at(receivedAt),
  ingested_at: at(ingestedAt),
  source: 'live',
  batch_id: 'b',
});

test('coverage windows and trade-id jumps come per asked stream, copies collapsed as in the dedup views, with maximumBytesBilled sent', async (t) => {
  const standin = await startBigQueryStandin({ projectId: PROJECT });
  t.teardown(() => standin.stop());
  const bq = createBigQueryClient(PROJECT, standin.url);
  const dataset = uniqueName('gq').replace(/-/g, '_');
  await ensureWarehouse(bq, PROJECT, dataset);
  await bq
    .dataset(dataset)
    .table('coverage')
    .insert([
      coverageRow(aaa, 'a1', 0, 1000),
      coverageRow(aaa, 'a1', 0, 1000), // the same batch's row, committed twice
      coverageRow(aaa, 'a2', 1000, 2000),
      coverageRow(bbb, 'b1', 0, 500),
      ...strangers.map((s, i) => coverageRow(s, `x${i}`, 0, 3000)),
    ]);
  await bq
    .dataset(dataset)
    .table('trades')
    .insert([
      tradeRow(aaa, 1, 100, 150),
      tradeRow(aaa, 2, 200, 250),
      tradeRow(aaa, 2, 230, 9000), // a later copy (backfill) of trade 2: the earliest ingested counts
      tradeRow(aaa, 4, 400, 450),
      tradeRow(bbb, 10, 100, 150),
      tradeRow(bbb, 11, 200, 250),
      tradeRow(strangers[0]!, 1, 100, 150),
      tradeRow(strangers[0]!, 5, 200, 250),
    ]);

  for (const queryTimeoutMs of [10_000, undefined]) {
    const warehouse = new BigQueryWarehouse(bq, dataset, { transport: 'direct', queryTimeoutMs });
    const queries = new BigQueryGapQueries(warehouse, PROJECT, dataset, 10 * 2 ** 20);
    const range = { from: T0 - 3600_000, to: T0 + 3600_000 };
    t.deepEqual(
      await queries.coverageWindows([aaa, bbb], range),
      new Map([
        [
          'binance:aaausdt:trade',
          [
            { from: T0, to: T0 + 1000 },
            { from: T0 + 1000, to: T0 + 2000 },
          ],
        ],
        ['coinbase:bbb-usd:trade', [{ from: T0, to: T0 + 500 }]],
      ]),
    );
    t.deepEqual(
      await queries.tradeIdJumps([aaa, bbb], range),
      new Map([
        ['binance:aaausdt:trade', [{ before: T0 + 200, after: T0 + 400 }]],
        ['coinbase:bbb-usd:trade', []],
      ]),
    );
    const capped = new BigQueryGapQueries(warehouse, PROJECT, dataset, 2 ** 20);
    await t.throwsAsync(capped.coverageWindows([aaa], range), {
      message: /exceeded limit for bytes billed/,
    });
  }
});
