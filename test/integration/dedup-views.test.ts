// The dedup views (TABLES in functions/core/contract/schema.ts, decisions/0027 and 0028) collapse every
// kind of copy to one row, and a one-symbol one-day query on a view reads at most twice what the same
// query on its base table reads, by the stand-in's bytes model, over a month of synthetic history: the
// quotes and derivative tickers views once the compactor has merged the settled days.
process.env.METADATA_SERVER_DETECTION = 'none';

import test from 'ava';
import type { BigQuery } from '@google-cloud/bigquery';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { BigQuerySettledWarehouse } from '../../functions/adapters/bigquery/settled-warehouse.ts';
import { runCompaction } from '../../functions/core/compaction/compact.ts';
import { DEFAULT_COMPACTION_OPTIONS } from '../../functions/core/compaction/plan.ts';
import {
  dedupViewName,
  dedupViewSql,
  TABLES,
  type TickTableName,
} from '../../functions/core/contract/schema.ts';
import { settledTableName } from '../../functions/core/contract/settled-sql.ts';
import { startBigQueryStandin, type BigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';
import { uniqueName } from '../support/env.ts';

const PROJECT = 'dedup-views';
const DAY_MS = 86_400_000;
const DAYS = 31;
const FIRST_DAY = Date.UTC(2026, 9, 1);
const SYMBOLS = ['s0usdt', 's1usdt', 's2usdt'];
/** Each symbol and day: one row every four hours, one a millisecond before midnight and one at midnight. */
const INSTANTS = [...Array.from({ length: 6 }, (_, h) => h * 4 * 3_600_000 + 1_800_000), DAY_MS - 1, 0];
/** Coverage windows per stream and day (three hours each). */
const WINDOWS = 8;
const WINDOW_MS = DAY_MS / WINDOWS;
const TICK_TABLES: readonly TickTableName[] = [
  'trades',
  'quotes',
  'book_changes',
  'derivative_tickers',
  'liquidations',
];
/** Tables whose copies may hold different exchange times (a receive-time stamp, a merged state's time). */
const STAMPS_DIFFER = new Set<TickTableName>(['quotes', 'derivative_tickers']);
/** The compactor's run: the first 30 days settled, the last one (and quotes re-sent after it) the tail. */
const COMPACTED_AT = FIRST_DAY + 30 * DAY_MS + DEFAULT_COMPACTION_OPTIONS.settleMs + 3_600_000;
/** The view as it reads before any compaction (everything in the tail), beside the compacted one. */
const openView = (table: string) => `${table}_dedup_open`;

type Row = Record<string, unknown>;
const iso = (ms: number) => new Date(ms).toISOString();

/** The type's own columns of the n-th event of a symbol, and its row id. */
function eventColumns(table: TickTableName, symbol: string, n: number, ts: number): Row {
  switch (table) {
    case 'trades':
      return {
        row_id: `binance:${symbol}:t:${n}`,
        trade_id: String(n),
        price: 100 + n,
        amount: 1,
        side: 'buy',
      };
    case 'quotes':
      return {
        row_id: `binance:${symbol}:q:${n}`,
        bid_price: 99,
        bid_amount: 2,
        ask_price: 101,
        ask_amount: 3,
      };
    case 'book_changes':
      return {
        row_id: `binance:${symbol}:b:h${n}`,
        is_snapshot: false,
        bids: [{ price: 99, amount: n }],
        asks: [{ price: 101, amount: 1 }],
      };
    case 'derivative_tickers':
      return {
        row_id: `binance:${symbol}:d:markPrice:${ts}`,
        last_price: null,
        open_interest: null,
        funding_rate: 0.0001,
        funding_ts: iso(ts + 3_600_000),
        predicted_funding_rate: null,
        index_price: 100,
        mark_price: 100.5,
      };
    case 'liquidations':
      return {
        row_id: `binance:${symbol}:lh:h${n}`,
        liquidation_id: null,
        price: 100,
        amount: n,
        side: 'sell',
      };
  }
}

/**
 * Every row of one tick table: the live copy of each event, and for some a redelivered copy (the same
 * row, ingested later), a backfilled copy (from the recorder: its own receive time, and in the tables
 * where copies may differ in it, its own exchange time, across midnight for the last event of a day)
 * and, in quotes, a state re-sent on a later subscribe (stamped two days later, ingested last).
 */
function tickRows(table: TickTableName): Row[] {
  const rows: Row[] = [];
  let n = 0;
  for (let day = 0; day < DAYS; day++) {
    for (const symbol of SYMBOLS) {
      for (const at of INSTANTS) {
        n++;
        const ts = FIRST_DAY + day * DAY_MS + at;
        const live: Row = {
          ...eventColumns(table, symbol, n, ts),
          exchange: 'binance',
          symbol,
          exchange_ts: iso(ts),
          local_ts: iso(ts + 7),
          ingested_at: iso(ts + 100),
          source: 'live',
          relay_id: 'relay-0000abcd',
          batch_id: `relay-0000abcd/binance:${symbol}:x/${n}`,
        };
        rows.push(live);
        if (n % 4 === 1) rows.push({ ...live, ingested_at: iso(ts + 5_000) });
        if (n % 3 === 0 || at === DAY_MS - 1) {
          const stamp = STAMPS_DIFFER.has(table) ? ts + 3 : ts;
          rows.push({
            ...live,
            exchange_ts: iso(stamp),
            local_ts: iso(ts + 4),
            ingested_at: iso(ts + 600_000),
            source: 'backfill',
            relay_id: null,
            batch_id: `gapfill/g${n}`,
          });
        }
        if (table === 'quotes' && n % 5 === 0) {
          rows.push({ ...live, exchange_ts: iso(ts + 2 * DAY_MS), ingested_at: iso(ts + 2 * DAY_MS + 100) });
        }
      }
    }
  }
  return rows;
}

/** Coverage: every live window twice (a redelivered batch), some backfills committed by two attempts. */
function coverageRows(): Row[] {
  const rows: Row[] = [];
  for (let day = 0; day < DAYS; day++) {
    for (const symbol of SYMBOLS) {
      for (let k = 0; k < WINDOWS; k++) {
        const from = FIRST_DAY + day * DAY_MS + k * WINDOW_MS;
        const row: Row = {
          batch_id:
            k % 4 === 3
              ? `gapfill/${symbol}-${day}-${k}`
              : `relay-0000abcd/binance:${symbol}:trade/${day}-${k}`,
          exchange: 'binance',
          symbol,
          data_type: 'trade',
          window_from: iso(from),
          window_to: iso(from + WINDOW_MS),
          rows: 10,
          source: k % 4 === 3 ? 'backfill' : 'live',
          relay_id: k % 4 === 3 ? null : 'relay-0000abcd',
          committed_at: iso(from + WINDOW_MS + 100),
        };
        rows.push(row, { ...row, rows: 11, committed_at: iso(from + WINDOW_MS + 60_000) });
      }
    }
  }
  return rows;
}

/** The gap mirror: each gap's states, the last one `filled`. */
function gapRows(): Row[] {
  const rows: Row[] = [];
  for (let day = 0; day < DAYS; day++) {
    for (const symbol of SYMBOLS) {
      const from = FIRST_DAY + day * DAY_MS + DAY_MS - 900_000;
      ['open', 'filling', 'filled'].forEach((state, i) => {
        rows.push({
          gap_id: `gap-${symbol}-${day}`,
          exchange: 'binance',
          symbol,
          data_type: 'trade',
          gap_from: iso(from),
          gap_to: iso(from + 900_000),
          detected_by: 'coverage',
          state,
          attempts: i,
          rows_backfilled: state === 'filled' ? 10 : null,
          reason: null,
          updated_at: iso(from + 960_000 + i * 1000),
          fillable_at: iso(from + 920_000),
          filled_at: state === 'filled' ? iso(from + 962_000) : null,
        });
      });
    }
  }
  return rows;
}

interface Bed {
  standin: BigQueryStandin;
  bq: BigQuery;
  dataset: string;
}

async function load(bed: Bed, table: string, rows: Row[]): Promise<void> {
  const ds = bed.bq.dataset(bed.dataset);
  for (let i = 0; i < rows.length; i += 5000) {
    await ds.table(table).insert(
      rows.slice(i, i + 5000).map((json) => ({ json })),
      { raw: true },
    );
  }
}

const name = (bed: Bed, table: string) => `\`${PROJECT}.${bed.dataset}.${table}\``;

async function count(bed: Bed, sql: string): Promise<Record<string, number>> {
  const [rows] = await bed.bq.query({ query: sql });
  return Object.fromEntries(Object.entries(rows[0] as Row).map(([k, v]) => [k, Number(v)]));
}

/** Bytes the base table of `table` gives a query, before the 10 MiB minimum. */
async function scanned(bed: Bed, sql: string, table: string): Promise<number> {
  return (await bed.standin.scannedBytes(sql)).get(`${bed.dataset}.${table}`) ?? 0;
}

const DAY = FIRST_DAY + 14 * DAY_MS;
const oneDay = (column: string, day = DAY) =>
  `${column} >= TIMESTAMP '${iso(day)}' AND ${column} < TIMESTAMP '${iso(day + DAY_MS)}'`;

let bed: Bed;
test.before(async () => {
  const standin = await startBigQueryStandin({ projectId: PROJECT });
  const bq = createBigQueryClient(PROJECT, standin.url);
  bed = { standin, bq, dataset: uniqueName('dv').replace(/-/g, '_') };
  await ensureWarehouse(bq, PROJECT, bed.dataset);
  for (const table of TICK_TABLES) await load(bed, table, tickRows(table));
  await load(bed, 'coverage', coverageRows());
  await load(bed, 'gaps', gapRows());
  for (const table of STAMPS_DIFFER) {
    const query = dedupViewSql(PROJECT, bed.dataset, TABLES[table]);
    await bq.dataset(bed.dataset).createTable(openView(table), { view: { query, useLegacySql: false } });
  }
  const compacted = await compact(bed);
  if (compacted.failed.length > 0) throw new Error(JSON.stringify(compacted.failed));
});

function compact(bed: Bed, at = COMPACTED_AT) {
  const warehouse = new BigQuerySettledWarehouse(bed.bq, PROJECT, bed.dataset, {
    maxBytesBilled: 2 ** 40,
    jobTimeoutMs: 600_000,
  });
  const options = { ...DEFAULT_COMPACTION_OPTIONS, maxNewDays: DAYS };
  return runCompaction([...STAMPS_DIFFER], warehouse, { now: () => at }, options, new MemoryLogger());
}
test.after.always(async () => {
  await bed?.standin.stop();
});

const EVENTS = DAYS * SYMBOLS.length * INSTANTS.length;

const VIEWS = [
  ...TICK_TABLES.map((table) => [table, dedupViewName(table)] as const),
  ...[...STAMPS_DIFFER].map((table) => [table, openView(table)] as const),
];
for (const [table, viewName] of VIEWS) {
  test(`${viewName} holds each event once, the live copy, whatever copies the table holds`, async (t) => {
    const view = name(bed, viewName);
    const base = await count(bed, `SELECT COUNT(*) AS n FROM ${name(bed, table)}`);
    t.true(base.n! > EVENTS * 1.5, 'the table holds redelivered and backfilled copies');
    t.deepEqual(
      await count(
        bed,
        `SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids, COUNTIF(source != 'live') AS backfill, ` +
          `COUNTIF(ingested_at > TIMESTAMP_ADD(exchange_ts, INTERVAL 1 SECOND)) AS late FROM ${view}`,
      ),
      { n: EVENTS, ids: EVENTS, backfill: 0, late: 0 },
    );
    // The day's events of one symbol, those a millisecond before and at midnight included: a backfilled
    // copy stamped after midnight is not one more row of the next day.
    t.deepEqual(
      await count(
        bed,
        `SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids FROM ${view} ` +
          `WHERE exchange = 'binance' AND symbol = 's1usdt' AND ${oneDay('exchange_ts')}`,
      ),
      { n: INSTANTS.length, ids: INSTANTS.length },
    );
  });
}

test('coverage_dedup holds each batch once and gaps_dedup the latest state of each gap', async (t) => {
  t.deepEqual(
    await count(
      bed,
      `SELECT COUNT(*) AS n, COUNT(DISTINCT batch_id) AS ids, COUNTIF(rows != 10) AS later ` +
        `FROM ${name(bed, 'coverage_dedup')}`,
    ),
    { n: DAYS * SYMBOLS.length * WINDOWS, ids: DAYS * SYMBOLS.length * WINDOWS, later: 0 },
  );
  t.deepEqual(
    await count(
      bed,
      `SELECT COUNT(*) AS n, COUNT(DISTINCT gap_id) AS ids, COUNTIF(state != 'filled') AS stale ` +
        `FROM ${name(bed, 'gaps_dedup')}`,
    ),
    { n: DAYS * SYMBOLS.length, ids: DAYS * SYMBOLS.length, stale: 0 },
  );
});

const ONE_SYMBOL = "exchange = 'binance' AND symbol = 's1usdt'";
/** A one-symbol one-day query on `from`. */
const daySql = (bed: Bed, from: string, column: string, filter = ONE_SYMBOL, day = DAY) =>
  `SELECT * FROM ${name(bed, from)} WHERE ${filter} AND ${oneDay(column, day)}`;
/** The last day of the bed: the compactor's tail. */
const TAIL_DAY = FIRST_DAY + 30 * DAY_MS;

/** Bytes a query reads of `table` and, for a compacted table, of its settled table. */
async function read(bed: Bed, sql: string, table: string): Promise<number> {
  const settled = STAMPS_DIFFER.has(table as TickTableName) ? settledTableName(table) : undefined;
  return (await scanned(bed, sql, table)) + (settled ? await scanned(bed, sql, settled) : 0);
}

test('a one-symbol one-day query on a dedup view reads at most twice what it reads on the base table, a settled day or the tail', async (t) => {
  const figures: Record<string, Record<string, number>> = {};
  for (const [table, column, filter] of [
    ...TICK_TABLES.map((table) => [table, 'exchange_ts', ONE_SYMBOL] as const),
    ['coverage', 'window_from', "exchange = 'binance' AND symbol = 's1usdt' AND data_type = 'trade'"],
    ['gaps', 'gap_from', "exchange = 'binance' AND symbol = 's1usdt' AND data_type = 'trade'"],
  ] as const) {
    const base = await scanned(bed, daySql(bed, table, column, filter), table);
    const view = await read(bed, daySql(bed, dedupViewName(table), column, filter), table);
    const whole = await scanned(bed, `SELECT * FROM ${name(bed, table)}`, table);
    figures[table] = { base, view, whole };
    t.true(base > 0 && whole > 50 * base, `${table}: a day of one symbol is a small part of the table`);
    t.true(view <= 2 * base, `${table}: ${view} bytes through the view, ${base} on the table`);
    if (STAMPS_DIFFER.has(table as TickTableName)) {
      // The tail's day (not compacted yet) and the same day before any compaction (the whole history).
      const tail = (from: string) => daySql(bed, from, column, filter, TAIL_DAY);
      const tailBase = await scanned(bed, tail(table), table);
      const tailView = await read(bed, tail(dedupViewName(table)), table);
      const open = await read(bed, daySql(bed, openView(table), column, filter), table);
      Object.assign(figures[table]!, { tailBase, tailView, beforeCompaction: open });
      t.true(
        tailView <= 2 * tailBase,
        `${table} tail: ${tailView} through the view, ${tailBase} on the table`,
      );
      t.true(open > 10 * base, `${table}: before compaction the view reads the symbol's history (${open})`);
    }
  }
  t.log(JSON.stringify({ dedupViews: figures }));
});

test('through the previous views every query read the whole table', async (t) => {
  const before = `SELECT * FROM ${name(bed, 'trades')} WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY row_id ORDER BY ingested_at) = 1`;
  await bed.bq
    .dataset(bed.dataset)
    .createTable('trades_dedup_before', { view: { query: before, useLegacySql: false } });
  const whole = await scanned(bed, `SELECT * FROM ${name(bed, 'trades')}`, 'trades');
  t.is(await scanned(bed, daySql(bed, 'trades_dedup_before', 'exchange_ts'), 'trades'), whole);
});

test('for quotes and derivative tickers, a day read from the base table with an hour of margin each side reads three day partitions of the symbol, and is exact only for copies stamped within the margin', async (t) => {
  const counts: Record<string, Record<string, number>> = {};
  for (const table of ['quotes', 'derivative_tickers'] as const) {
    const margin =
      `SELECT * FROM (SELECT * FROM ${name(bed, table)} WHERE exchange = 'binance' AND symbol = 's1usdt' ` +
      `AND exchange_ts >= TIMESTAMP '${iso(DAY - 3_600_000)}' AND exchange_ts < TIMESTAMP '${iso(DAY + DAY_MS + 3_600_000)}' ` +
      `QUALIFY ROW_NUMBER() OVER (PARTITION BY row_id ORDER BY ingested_at) = 1) WHERE ${oneDay('exchange_ts')}`;
    const base = await scanned(bed, daySql(bed, table, 'exchange_ts'), table);
    const read = await scanned(bed, margin, table);
    t.true(read > base && read <= 3.2 * base, `${table}: ${read} bytes with the margin, ${base} for the day`);
    counts[table] = await count(bed, `SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids FROM (${margin})`);
  }
  t.deepEqual(counts.derivative_tickers, { n: INSTANTS.length, ids: INSTANTS.length });
  // A quote state re-sent two days later is a row of the day it was re-sent: its first copy is outside.
  t.true((counts.quotes?.n ?? 0) > INSTANTS.length, JSON.stringify(counts.quotes));
});

test('across the compacted boundary a late copy of a compacted quote adds no row, a re-run changes nothing, and a row backfilled into a settled day appears at the next run', async (t) => {
  const small: Bed = { ...bed, dataset: uniqueName('dvb').replace(/-/g, '_') };
  await ensureWarehouse(bed.bq, PROJECT, small.dataset);
  const dayA = Date.UTC(2026, 10, 10);
  const quote = (id: string, at: number, ingested: number, extra: Row = {}): Row => ({
    ...eventColumns('quotes', 's0usdt', 0, at),
    row_id: `binance:s0usdt:q:${id}`,
    exchange: 'binance',
    symbol: 's0usdt',
    exchange_ts: iso(at),
    local_ts: iso(at + 7),
    ingested_at: iso(ingested),
    source: 'live',
    relay_id: 'relay-0000abcd',
    batch_id: `relay-0000abcd/binance:s0usdt:book_ticker/${id}`,
    ...extra,
  });
  const x = dayA + DAY_MS - 1;
  const w = dayA + 12 * 3_600_000;
  await load(small, 'quotes', [quote('x', x, x + 100), quote('w', w, w + 100)]);
  const runAt = dayA + DAY_MS + DEFAULT_COMPACTION_OPTIONS.settleMs + 3_600_000;
  t.deepEqual((await compact(small, runAt)).failed, []);
  const view = name(small, 'quotes_dedup');
  const settled = name(small, 'quotes_settled');
  const fingerprint = `SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids, COUNTIF(source = 'live') AS live FROM `;
  t.deepEqual(await count(small, `${fingerprint}${settled}`), { n: 2, ids: 2, live: 2 });

  // After the run: x's backfilled copy stamped after midnight, w's state re-sent two days later, and a
  // quote y backfilled into the settled day by a gap the gap-filler marks filled.
  const backfill = { source: 'backfill', relay_id: null, batch_id: 'gapfill/g1' };
  const y = dayA + 6 * 3_600_000;
  await load(small, 'quotes', [
    quote('x', x + 3, runAt - 60_000, backfill),
    quote('w', w + 2 * DAY_MS, runAt),
    quote('y', y, runAt, backfill),
  ]);
  await load(small, 'gaps', [
    {
      ...gapRows()[2],
      gap_id: 'g1',
      data_type: 'book_ticker',
      gap_from: iso(y - 60_000),
      gap_to: iso(y + 840_000),
      updated_at: iso(runAt),
    },
  ]);
  const ids = `SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids, COUNTIF(source != 'live') AS backfill FROM ${view}`;
  t.deepEqual(await count(small, ids), { n: 2, ids: 2, backfill: 0 }, 'y waits for the next run');

  const before = (await small.bq.dataset(small.dataset).table('quotes_dedup').getMetadata())[0].view.query;
  const next = await compact(small, runAt + 3_600_000);
  t.deepEqual(
    next.tables.map((c) => c.days),
    [['2026-11-10'], []],
    'only the day the gap filled is merged',
  );
  t.deepEqual(await count(small, ids), { n: 3, ids: 3, backfill: 1 });
  t.deepEqual(await count(small, `${fingerprint}${settled}`), { n: 3, ids: 3, live: 2 });
  await compact(small, runAt + 3_600_000);
  t.deepEqual(await count(small, `${fingerprint}${settled}`), { n: 3, ids: 3, live: 2 }, 'a re-run');
  const after = (await small.bq.dataset(small.dataset).table('quotes_dedup').getMetadata())[0].view.query;
  t.is(after, before, 'the boundary stays where it was');
});
