import test from 'ava';
import {
  inlineViews,
  scanCondition,
  through,
  unionBranches,
  windowKeys,
  type Layer,
} from '../../scripts/local/bigquery/pushdown.ts';

const all = (text: string): Layer => ({ text, reaches: 'all' });
const CLUSTERING = ['exchange', 'symbol'];

test('a window lets through filters on the bare columns it partitions by, and none when it has no PARTITION BY', (t) => {
  t.deepEqual(
    windowKeys(
      'SELECT * FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY exchange, `symbol`, t.exchange_ts, row_id ORDER BY x) = 1',
    ),
    new Set(['exchange', 'symbol', 'exchange_ts', 'row_id']),
  );
  t.deepEqual(
    windowKeys(
      'SELECT * FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY DATE(exchange_ts), row_id ORDER BY x) = 1',
    ),
    new Set(['row_id']),
    'an expression is not its column',
  );
  t.deepEqual(windowKeys('SELECT RANK() OVER (ORDER BY ts) FROM t'), new Set());
  t.deepEqual(
    windowKeys(
      'SELECT LAG(a) OVER (PARTITION BY exchange, symbol ORDER BY id), LAG(b) OVER (PARTITION BY symbol) FROM t',
    ),
    new Set(['symbol']),
    'every window must let it through',
  );
  t.is(windowKeys('SELECT * FROM t WHERE a = 1'), undefined);
});

test('filters above a window reach the scan only on its keys; the scan reads the partitions and leading clusters they select', (t) => {
  const day =
    "exchange_ts >= TIMESTAMP '2026-10-15 00:00:00+00' AND exchange_ts < TIMESTAMP '2026-10-16 00:00:00+00'";
  const outer = all(`SELECT * FROM v WHERE exchange = 'binance' AND symbol = 's1' AND ${day}`);
  const view = all('SELECT * FROM t WHERE TRUE');
  const byTime = through([outer], new Set(['exchange', 'symbol', 'exchange_ts', 'row_id']));
  t.is(
    scanCondition([...byTime, view], 'exchange_ts', CLUSTERING, []),
    `"exchange_ts" >= to_timestamp(${Date.UTC(2026, 9, 15) / 1000}) AND "exchange_ts" < to_timestamp(${Date.UTC(2026, 9, 16) / 1000}) ` +
      `AND "exchange" IN ('binance') AND "symbol" IN ('s1')`,
    'a strict bound at midnight reads no partition past it',
  );
  const byId = through([outer], new Set(['exchange', 'symbol', 'row_id']));
  t.is(
    scanCondition([...byId, view], 'exchange_ts', CLUSTERING, []),
    `"exchange" IN ('binance') AND "symbol" IN ('s1')`,
  );
  t.is(
    scanCondition([...through([outer], new Set(['row_id'])), view], 'exchange_ts', CLUSTERING, []),
    undefined,
  );
  t.is(
    scanCondition([all("SELECT * FROM t WHERE symbol = 's1'")], 'exchange_ts', CLUSTERING, []),
    undefined,
    'a filter on the second clustering column alone prunes nothing',
  );
});

test('equality filters on clustering columns take literals, lists and parameters, and intersect', (t) => {
  const params = [
    { name: 'ex', parameterType: { type: 'STRING' }, parameterValue: { value: 'binance' } },
    {
      name: 'syms',
      parameterType: { type: 'ARRAY', arrayType: { type: 'STRING' } },
      parameterValue: { arrayValues: [{ value: 'a' }, { value: 'b' }] },
    },
  ];
  t.is(
    scanCondition(
      [all("SELECT * FROM t WHERE exchange = @ex AND symbol IN UNNEST(@syms) AND symbol IN ('b', 'c')")],
      undefined,
      CLUSTERING,
      params,
    ),
    `"exchange" IN ('binance') AND "symbol" IN ('b')`,
  );
  t.is(
    scanCondition(
      [all("SELECT * FROM t WHERE exchange = 'x' AND exchange = 'y'")],
      undefined,
      CLUSTERING,
      [],
    ),
    'FALSE',
  );
  t.is(
    scanCondition([all("SELECT * FROM t WHERE exchange = 'x' OR symbol = 'y'")], undefined, CLUSTERING, []),
    undefined,
  );
});

test('UNION ALL branches and subqueries are split at the top level', (t) => {
  t.deepEqual(
    unionBranches('SELECT 1 FROM a UNION ALL SELECT 2 FROM (SELECT 3 FROM b UNION ALL SELECT 4 FROM c)'),
    ['SELECT 1 FROM a ', ' SELECT 2 FROM (SELECT 3 FROM b UNION ALL SELECT 4 FROM c)'],
  );
  t.deepEqual(
    inlineViews(
      'SELECT * FROM (SELECT * FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY row_id) = 1) WHERE ts > 1',
    ),
    {
      branch: 'SELECT * FROM __inline_view__ WHERE ts > 1',
      subqueries: ['SELECT * FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY row_id) = 1'],
    },
  );
});
