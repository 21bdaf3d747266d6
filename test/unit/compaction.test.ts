import test from 'ava';
import { runCompaction, type SettledWarehouse } from '../../functions/core/compaction/compact.ts';
import {
  DAY_MS,
  DEFAULT_COMPACTION_OPTIONS,
  fillsSince,
  planCompaction,
} from '../../functions/core/compaction/plan.ts';
import { TABLES } from '../../functions/core/contract/schema.ts';
import {
  compactDaySql,
  NOTHING_SETTLED,
  settledBeforeOf,
  settledViewSql,
} from '../../functions/core/contract/settled-sql.ts';
import { createCompactorHandler } from '../../functions/compactor/handler.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';

const D = Date.UTC(2026, 10, 10);
const day = (n: number) => D + n * DAY_MS;
const OPTIONS = DEFAULT_COMPACTION_OPTIONS;
/** A run 7 h into day n: day n - 1 has settled (6 h). */
const at = (n: number) => day(n) + 7 * 3_600_000;

test('a run settles the days since the boundary and merges the last two settled days again', (t) => {
  t.deepEqual(
    planCompaction({ now: at(10), settledBefore: day(9), firstDay: undefined, filledGapStarts: [] }, OPTIONS),
    {
      days: [day(7), day(8), day(9)],
      settledBefore: day(10),
    },
  );
});

test('a run that moves no boundary merges only the settled days a recently filled gap wrote into', (t) => {
  const plan = planCompaction(
    {
      now: at(10) + 3_600_000,
      settledBefore: day(10),
      firstDay: undefined,
      filledGapStarts: [day(3) + 60_000, day(11)],
    },
    OPTIONS,
  );
  t.deepEqual(plan, { days: [day(3)], settledBefore: day(10) });
});

test('a day settles only settleMs after it ends', (t) => {
  const early = day(10) + OPTIONS.settleMs - 1;
  t.deepEqual(
    planCompaction({ now: early, settledBefore: day(9), firstDay: undefined, filledGapStarts: [] }, OPTIONS),
    {
      days: [],
      settledBefore: day(9),
    },
  );
});

test('the first run starts at the first day of data and settles at most maxNewDays per run', (t) => {
  const plan = planCompaction(
    { now: at(30), settledBefore: undefined, firstDay: day(0) + 5, filledGapStarts: [] },
    OPTIONS,
  );
  t.deepEqual(
    plan.days,
    Array.from({ length: OPTIONS.maxNewDays }, (_, i) => day(i)),
  );
  t.is(plan.settledBefore, day(OPTIONS.maxNewDays));
});

test('an empty table publishes no boundary: a later backfill into an old day stays visible', (t) => {
  t.deepEqual(
    planCompaction(
      { now: at(30), settledBefore: undefined, firstDay: undefined, filledGapStarts: [] },
      OPTIONS,
    ),
    {
      days: [],
      settledBefore: undefined,
    },
  );
});

test('filled gaps are looked for over the fill lookback, or since the boundary when the compactor lagged', (t) => {
  t.is(fillsSince(at(10), day(10), OPTIONS), at(10) - OPTIONS.fillLookbackMs);
  t.is(fillsSince(at(10), day(4), OPTIONS), day(4));
});

/** A SettledWarehouse double: records merges and publications; merging `failOn` throws. */
function fakeWarehouse(settled: Record<string, number | undefined>, failOn?: number) {
  const merged: [string, number][] = [];
  const published: [string, number][] = [];
  const warehouse: SettledWarehouse = {
    settledBefore: async (table) => settled[table],
    firstTime: async () => day(0),
    filledGapStarts: async () => [],
    compactDay: async (table, start) => {
      if (start === failOn) throw new Error('quota exceeded');
      merged.push([table, start]);
      return { rows: 10 };
    },
    publish: async (table, boundary) => {
      published.push([table, boundary]);
    },
  };
  return { warehouse, merged, published };
}

test('the boundary is published after its days are merged, oldest first', async (t) => {
  const { warehouse, merged, published } = fakeWarehouse({ quotes: day(9) });
  const result = await runCompaction(
    ['quotes'],
    warehouse,
    { now: () => at(10) },
    OPTIONS,
    new MemoryLogger(),
  );
  t.deepEqual(
    merged.map(([, d]) => d),
    [day(7), day(8), day(9)],
  );
  t.deepEqual(published, [['quotes', day(10)]]);
  t.like(result.tables[0], { rows: 30, settledBefore: new Date(day(10)).toISOString() });
});

test('a merge that fails keeps the old boundary, so the view stays exact, and the other table still runs', async (t) => {
  const { warehouse, merged, published } = fakeWarehouse(
    { quotes: day(9), derivative_tickers: day(9) },
    day(9),
  );
  const logger = new MemoryLogger();
  const result = await runCompaction(
    ['quotes', 'derivative_tickers'],
    warehouse,
    { now: () => at(10) },
    OPTIONS,
    logger,
  );
  t.deepEqual(published, []);
  t.deepEqual(
    result.failed.map((f) => f.table),
    ['quotes', 'derivative_tickers'],
  );
  t.is(merged.length, 4, 'each table merged the days before the failing one');
  t.is(logger.with('table compaction failed').length, 2);
});

test('the view publishes its boundary in a form the compactor reads back', (t) => {
  const sql = settledViewSql('p', 'd', TABLES.quotes, day(10));
  t.is(settledBeforeOf(sql, TABLES.quotes), day(10));
  t.is(settledBeforeOf(settledViewSql('p', 'd', TABLES.quotes, NOTHING_SETTLED), TABLES.quotes), 0);
  t.is(settledBeforeOf('SELECT * FROM `p.d.quotes` WHERE TRUE', TABLES.quotes), undefined);
});

test('a day merge reads the base table within the lookaround and replaces only its own partition', (t) => {
  const sql = compactDaySql('p', 'd', TABLES.derivative_tickers, day(10));
  t.regex(sql, /^MERGE `p\.d\.derivative_tickers_settled` AS s USING/);
  t.true(sql.includes(`exchange_ts >= TIMESTAMP '${new Date(day(8)).toISOString()}'`));
  t.true(sql.includes(`exchange_ts < TIMESTAMP '${new Date(day(13)).toISOString()}'`));
  t.true(
    sql.includes(
      `WHEN NOT MATCHED BY SOURCE AND s.exchange_ts >= TIMESTAMP '${new Date(day(10)).toISOString()}' ` +
        `AND s.exchange_ts < TIMESTAMP '${new Date(day(11)).toISOString()}' THEN DELETE`,
    ),
  );
  t.throws(() => compactDaySql('p', 'd', TABLES.trades, day(10)), { message: /not compacted/ });
});

test('one POST to the compactor runs both compacted tables and answers 500 when one failed', async (t) => {
  const answers: { code: number; body: unknown }[] = [];
  const post = async (failOn?: number) => {
    const { warehouse } = fakeWarehouse({ quotes: day(9), derivative_tickers: day(10) }, failOn);
    const handle = createCompactorHandler({
      warehouse,
      clock: { now: () => at(10) },
      options: OPTIONS,
      logger: new MemoryLogger(),
      projectId: 'p',
    });
    let code = 0;
    const res = {
      status: (c: number) => ((code = c), res),
      json: (body: unknown) => answers.push({ code, body }),
      send: (body: string) => answers.push({ code, body }),
    };
    await handle({ method: 'POST', get: () => undefined }, res);
  };
  await post();
  await post(day(8));
  t.is(answers[0]!.code, 200);
  t.deepEqual(
    (answers[0]!.body as { tables: { table: string }[] }).tables.map((c) => c.table),
    ['quotes', 'derivative_tickers'],
  );
  t.is(answers[1]!.code, 500);
});
