import test from 'ava';
import { backfill } from '../../functions/core/gapfill/backfill.ts';
import { newGap } from '../../functions/core/gapfill/gaps.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import type { Tick } from '../../functions/core/model/tick.ts';
import { MemoryHistorySource } from '../support/doubles/history-source.ts';
import { memoryGapfillDeps } from '../support/gapfill-deps.ts';
import { derivativeTicker, liquidation } from '../support/ticks.ts';

const GAP_FROM = Date.UTC(2026, 0, 1);

async function backfillOf(type: StreamKey['type'], held: Tick[]) {
  const stream: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type };
  const deps = memoryGapfillDeps(Date.UTC(2026, 0, 2), [stream], { history: new MemoryHistorySource(held) });
  const gap = newGap(stream, GAP_FROM, GAP_FROM + 10_000, 'coverage', deps.clock.now());
  const written = await backfill(deps, gap, new AbortController().signal);
  return { warehouse: deps.warehouse, written };
}

test('a backfill stores derivative tickers under the live ids, though a replay merged less state', async (t) => {
  const live = [derivativeTicker(1), derivativeTicker(2), derivativeTicker(3)];
  // The replay's first ticker had not seen open interest or last price yet (decisions/0024).
  const replayed = [{ ...live[0]!, openInterest: undefined, lastPrice: undefined }, live[1]!, live[2]!];
  const { warehouse, written } = await backfillOf('derivative_ticker', replayed);
  t.is(written, 3);
  t.deepEqual(
    warehouse.rows('derivative_tickers').map((r) => r.insertId),
    live.map(rowId),
  );
  t.like(warehouse.rows('derivative_tickers')[0]!.json, { source: 'backfill', open_interest: null });
  t.is(warehouse.rows('coverage')[0]!.json.data_type, 'derivative_ticker');
});

test('a backfill stores liquidations and quarantines an impossible one', async (t) => {
  const held = [liquidation(1), liquidation(2, { id: '4242' }), liquidation(3, { price: -5 })];
  const { warehouse, written } = await backfillOf('liquidation', held);
  t.is(written, 2);
  t.deepEqual(
    warehouse.rows('liquidations').map((r) => r.insertId),
    [rowId(held[0]!), 'binance:btcusdt:l:4242'],
  );
  t.like(warehouse.rows('quarantine')[0]!.json, {
    reason: 'invalid_tick',
    detail: 'price is not a positive finite number',
    data_type: 'liquidation',
  });
  t.like(warehouse.rows('coverage')[0]!.json, { data_type: 'liquidation', rows: 2 });
});
