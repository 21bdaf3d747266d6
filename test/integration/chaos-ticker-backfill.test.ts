// How a chaos run counts backfilled derivative tickers in a fault's window, on the BigQuery stand-in's
// dedup view. The rows are the ones two runs served from history (docs/RELIABILITY.md, "Full default
// `fleet`"): neither is a message a relay lost, and a ticker a relay did lose must still count.
process.env.METADATA_SERVER_DETECTION = 'none';

import test from 'ava';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { BigQueryWarehouse } from '../../functions/adapters/bigquery/warehouse.ts';
import { backfilledSpan } from '../../scripts/chaos/measure.ts';
import { startBigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import type { Stack } from '../../scripts/local/stack.ts';
import type { ExpectedStream } from '../../scripts/local/verify-mix.ts';
import { uniqueName } from '../support/env.ts';

const PROJECT = 'chaos-ticker-backfill';
const OKX: ExpectedStream = {
  exchange: 'okex-swap',
  symbol: 'btc-usdt-swap',
  type: 'derivative_ticker',
  range: { firstId: 1, lastId: 2 },
};
const FUTURES: ExpectedStream = { ...OKX, exchange: 'binance-futures', symbol: 'btcusdt' };

/** The last OKX instant sent before the ground truth froze, and the next one (never sent live). */
const LAST_SENT = 1_796_685_555_150;
const AFTER_FREEZE = 1_796_685_556_716;
/** A Binance futures instant a relay received (markPrice, ticker) but did not poll open interest at. */
const UNPOLLED = 1_796_685_797_813;

function row(stream: ExpectedStream, key: string, exchangeTs: number, source: 'live' | 'backfill') {
  return {
    row_id: `${stream.exchange}:${stream.symbol}:d:${key}`,
    exchange: stream.exchange,
    symbol: stream.symbol,
    mark_price: 99.75,
    exchange_ts: new Date(exchangeTs).toISOString(),
    local_ts: new Date(exchangeTs + 3).toISOString(),
    ingested_at: new Date(exchangeTs + (source === 'live' ? 700 : 48_000)).toISOString(),
    source,
    batch_id: source === 'live' ? 'live-1' : 'gapfill/g1',
  };
}

test('a fault window counts a backfilled ticker at the instant its key names, and never the recorder’s polls', async (t) => {
  const standin = await startBigQueryStandin({ projectId: PROJECT });
  t.teardown(() => standin.stop());
  const bq = createBigQueryClient(PROJECT, standin.url);
  const dataset = uniqueName('ctb').replace(/-/g, '_');
  await ensureWarehouse(bq, PROJECT, dataset);
  await bq
    .dataset(dataset)
    .table('derivative_tickers')
    .insert([
      row(OKX, `mark-price:${LAST_SENT}`, LAST_SENT, 'live'),
      row(OKX, `mark-price:${LAST_SENT}`, LAST_SENT, 'backfill'),
      // OKX's funding-rate push leaves the merged ticker at the previous instant's time: this message
      // came after the freeze, yet its row is stamped with the last instant sent.
      row(OKX, `funding-rate:${AFTER_FREEZE}`, LAST_SENT, 'backfill'),
      row(OKX, `mark-price:${AFTER_FREEZE}`, AFTER_FREEZE, 'backfill'),
      row(FUTURES, `markPrice:${UNPOLLED}`, UNPOLLED, 'live'),
      row(FUTURES, `ticker:${UNPOLLED}`, UNPOLLED, 'live'),
      // The recorder polled open interest at this instant; the relay polls on its own 3 s clock.
      row(FUTURES, `openInterest:${UNPOLLED}`, UNPOLLED, 'backfill'),
      // A message the relay was sent and never published: served from history, it must count.
      row(FUTURES, `markPrice:${UNPOLLED + 1_000}`, UNPOLLED + 1_000, 'backfill'),
    ]);
  const stack = {
    projectId: PROJECT,
    topology: { dataset },
    warehouse: new BigQueryWarehouse(bq, dataset, { transport: 'direct' }),
  } as unknown as Stack;

  // The window of the last fault ends at the last instant sent.
  t.deepEqual(await backfilledSpan(stack, OKX, LAST_SENT - 60_000, LAST_SENT + 1), {
    rows: 0,
    firstTs: null,
    lastTs: null,
  });
  t.deepEqual(await backfilledSpan(stack, OKX, LAST_SENT - 60_000, AFTER_FREEZE + 1), {
    rows: 2,
    firstTs: AFTER_FREEZE,
    lastTs: AFTER_FREEZE,
  });
  t.deepEqual(await backfilledSpan(stack, FUTURES, UNPOLLED - 2_000, UNPOLLED + 2_000), {
    rows: 1,
    firstTs: UNPOLLED + 1_000,
    lastTs: UNPOLLED + 1_000,
  });
});
