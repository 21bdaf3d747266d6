// The bytes one gap-filler run makes BigQuery process (the stand-in's model, docs/COST.md "Query bytes")
// do not grow with the history in the tables nor with the number of streams.
process.env.METADATA_SERVER_DETECTION = 'none';

import test from 'ava';
import type { BigQuery } from '@google-cloud/bigquery';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { runGapfill } from '../../functions/core/gapfill/gapfill-service.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { readGapfillConfig } from '../../functions/gapfill/config.ts';
import { wireGapfill } from '../../functions/gapfill/deps.ts';
import { MIN_BYTES_PER_TABLE } from '../../scripts/local/bigquery/bytes-processed.ts';
import { startBigQueryStandin, type BigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

const PROJECT = 'gapfill-bytes';
const DAY_MS = 86_400_000;
const STREAMS = 300;
/**
 * Per stream and day: few rows, yet 30 days of the columns each detection query reads are more than
 * the 10 MiB minimum per table, so only partition pruning keeps a run at the minimum.
 */
const ROWS_PER_DAY = 36;
const symbols = Array.from({ length: STREAMS }, (_, i) => `s${String(i).padStart(3, '0')}usdt`);

interface Bed {
  standin: BigQueryStandin;
  bq: BigQuery;
  dataset: string;
  now: number;
}

/** One day of contiguous history for every stream: coverage tiling the day, trade ids without a jump. */
async function loadDay(bed: Bed, day: number): Promise<void> {
  const ds = bed.bq.dataset(bed.dataset);
  const dayStart = Math.floor(bed.now / DAY_MS) * DAY_MS - day * DAY_MS;
  const step = DAY_MS / ROWS_PER_DAY;
  const coverage: Record<string, unknown>[] = [];
  const trades: Record<string, unknown>[] = [];
  for (const symbol of symbols) {
    for (let k = 0; k < ROWS_PER_DAY; k++) {
      const from = dayStart + k * step;
      const seq = day * ROWS_PER_DAY + (ROWS_PER_DAY - k);
      const batchId = `relay-0000abcd/binance:${symbol}:trade/${seq}`;
      coverage.push({
        batch_id: batchId,
        exchange: 'binance',
        symbol,
        data_type: 'trade',
        window_from: new Date(from).toISOString(),
        window_to: new Date(from + step).toISOString(),
        rows: 1,
        source: 'live',
        relay_id: 'relay-0000abcd',
        committed_at: new Date(from + step).toISOString(),
      });
      const tradeId = 1_000_000 - seq;
      trades.push({
        row_id: `binance:${symbol}:t:${tradeId}`,
        exchange: 'binance',
        symbol,
        trade_id: String(tradeId),
        price: 100,
        amount: 1,
        side: 'buy',
        exchange_ts: new Date(from + step / 2 - 5).toISOString(),
        local_ts: new Date(from + step / 2).toISOString(),
        ingested_at: new Date(from + step / 2 + 100).toISOString(),
        source: 'live',
        relay_id: 'relay-0000abcd',
        batch_id: batchId,
      });
    }
  }
  const requests: Promise<unknown>[] = [];
  for (const [table, rows] of [
    ['coverage', coverage],
    ['trades', trades],
  ] as const) {
    for (let i = 0; i < rows.length; i += 5000) {
      const chunk = rows.slice(i, i + 5000).map((json) => ({ json }));
      requests.push(ds.table(table).insert(chunk, { raw: true }));
    }
  }
  await Promise.all(requests);
}

/** Bytes processed and queries sent by one gap-filler run over `streams` streams. */
async function measureRun(bed: Bed, streams: number, maxBytesBilled?: number) {
  requireEmulators();
  const suffix = uniqueName('gfb');
  const config = readGapfillConfig({
    GOOGLE_CLOUD_PROJECT: PROJECT,
    RELAY_STREAMS: `binance:${symbols.slice(0, streams).join(',')}:trade`,
    BIGQUERY_API_ENDPOINT: bed.standin.url,
    BIGQUERY_STORAGE_EMULATOR_HOST: bed.standin.storageHost,
    BIGQUERY_DATASET: bed.dataset,
    CHECKPOINTS_COLLECTION: `checkpoints_${suffix}`,
    GAPS_COLLECTION: `gaps_${suffix}`,
    LEASES_COLLECTION: `leases_${suffix}`,
    GAPFILL_MAX_BYTES_BILLED: maxBytesBilled === undefined ? undefined : String(maxBytesBilled),
    // The warehouse detection (the audit path, decisions/0029); checkpoint detection queries nothing.
    GAPFILL_DETECTION: 'warehouse',
  });
  const deps = wireGapfill(config, silentLogger);
  const before = new Set((await bed.bq.getJobs())[0].map((j) => j.id));
  try {
    const run = await runGapfill({ ...deps, holder: suffix });
    const jobs = (await bed.bq.getJobs())[0].filter((j) => !before.has(j.id));
    const bytes = jobs.reduce((sum, j) => sum + Number(j.metadata.statistics.totalBytesProcessed), 0);
    return { run, queries: jobs.length, bytes };
  } finally {
    await deps.close();
  }
}

/** The dedup views of before: the window partitioned by the id alone (decisions/0027 replaced them). */
async function createPreviousViews(bed: Bed): Promise<void> {
  for (const [table, key, order] of [
    ['coverage', 'batch_id', 'batch_id'],
    ['trades', 'row_id', 'ingested_at'],
  ] as const) {
    const query =
      `SELECT * FROM \`${PROJECT}.${bed.dataset}.${table}\` WHERE TRUE ` +
      `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${key} ORDER BY ${order}) = 1`;
    await bed.bq
      .dataset(bed.dataset)
      .createTable(`${table}_dedup_before`, { view: { query, useLegacySql: false } });
  }
}

/** What each query of before (two per stream, over the previous dedup views) processed for one stream. */
async function viewQueryBytes(bed: Bed): Promise<{ coverage: number; trades: number }> {
  const dryRun = async (query: string) => {
    const [job] = await bed.bq.createQueryJob({
      query,
      params: { start: new Date(bed.now - 6 * 3600_000), horizon: new Date(bed.now) },
      dryRun: true,
    });
    return Number(job.metadata.statistics.totalBytesProcessed);
  };
  const view = (name: string) => `\`${PROJECT}.${bed.dataset}.${name}_before\``;
  return {
    coverage: await dryRun(
      `SELECT UNIX_MILLIS(window_from) AS f, UNIX_MILLIS(window_to) AS t FROM ${view('coverage_dedup')} ` +
        `WHERE exchange = 'binance' AND symbol = 's000usdt' AND data_type = 'trade' ` +
        `AND window_to > @start AND window_from < @horizon`,
    ),
    trades: await dryRun(
      `SELECT trade_id, local_ts FROM ${view('trades_dedup')} WHERE exchange = 'binance' ` +
        `AND symbol = 's000usdt' AND local_ts >= @start AND local_ts < @horizon`,
    ),
  };
}

test('one gap-filler run processes the same bytes with 30 days of history as with one, for 3 streams and for 300', async (t) => {
  t.timeout(120_000);
  const standin = await startBigQueryStandin({ projectId: PROJECT });
  t.teardown(() => standin.stop());
  const bq = createBigQueryClient(PROJECT, standin.url);
  const bed: Bed = { standin, bq, dataset: uniqueName('gfb').replace(/-/g, '_'), now: Date.now() };
  await ensureWarehouse(bq, PROJECT, bed.dataset);
  await createPreviousViews(bed);
  // Today and tomorrow: coverage reaches past the detection horizon, so the runs find no hole.
  await loadDay(bed, 0);
  await loadDay(bed, -1);

  const oneDay = { few: await measureRun(bed, 3), all: await measureRun(bed, STREAMS) };
  const viewOneDay = await viewQueryBytes(bed);
  const loadStarted = Date.now();
  for (let day = 1; day < 30; day++) await loadDay(bed, day);
  t.log(`29 days loaded in ${Date.now() - loadStarted} ms`);
  const thirtyDays = { few: await measureRun(bed, 3), all: await measureRun(bed, STREAMS) };
  const viewThirtyDays = await viewQueryBytes(bed);
  t.log(JSON.stringify({ oneDay, thirtyDays, viewOneDay, viewThirtyDays }));

  for (const { run, queries, bytes } of [oneDay.few, oneDay.all, thirtyDays.few, thirtyDays.all]) {
    t.true(run.leased);
    t.is(run.detected, 0, 'the synthetic history has no hole');
    t.is(queries, 2, 'one coverage query and one trade-id query per run');
    t.is(bytes, 2 * MIN_BYTES_PER_TABLE);
  }
  // The history is large enough to show: a query through a dedup view reads every partition.
  t.deepEqual(viewOneDay, { coverage: MIN_BYTES_PER_TABLE, trades: MIN_BYTES_PER_TABLE });
  t.true(viewThirtyDays.coverage > MIN_BYTES_PER_TABLE, `${viewThirtyDays.coverage} bytes through the view`);
  t.true(viewThirtyDays.trades > MIN_BYTES_PER_TABLE, `${viewThirtyDays.trades} bytes through the view`);

  const capped = await measureRun(bed, STREAMS, MIN_BYTES_PER_TABLE);
  t.true(capped.run.leased, 'a cap of the 10 MiB minimum lets every detection query run');
});
