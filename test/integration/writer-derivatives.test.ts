import test from 'ava';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { encodeBatchV1 } from '../../functions/core/contract/message-v1.ts';
import { carriedRowId, rowId } from '../../functions/core/model/row-id.ts';
import type { Tick } from '../../functions/core/model/tick.ts';
import { derivativeTicker, liquidation } from '../support/ticks.ts';
import {
  encodeBatch,
  pushEnvelope,
  startWriterHarness,
  type WriterHarness,
} from '../support/writer-harness.ts';

let h: WriterHarness;

test.before(async () => {
  // No insertId dedup in the stand-in: a redelivery lands twice in the table, the dedup view keeps one.
  h = await startWriterHarness({ name: 'derivs', dedupWindowMs: 0 });
});
test.after.always(async () => {
  await h?.stop();
});

function batchOf(ticks: Tick[], seq: number): Batch {
  const now = Date.now();
  return {
    stream: { exchange: 'binance', symbol: 'btcusdt', type: ticks[0]!.type },
    relayId: 'relay-derivs',
    seq,
    window: { from: now - 1000, to: now - 900 },
    ticks,
    rowIds: ticks.map(carriedRowId),
  };
}

test.serial(
  'derivative tickers are stored with every value, and a redelivery collapses in the view',
  async (t) => {
    const ticks = [
      derivativeTicker(0),
      derivativeTicker(1, { openInterest: undefined, lastPrice: undefined }),
      derivativeTicker(2, { eventKey: undefined }),
    ];
    const message = encodeBatch(batchOf(ticks, 1));
    for (const id of ['d-1', 'd-1-again']) {
      const reply = await h.post(pushEnvelope(message, id));
      t.like(reply.body, { status: 200, outcome: 'committed', rows: 3, quarantined: 0 });
    }
    const where = `WHERE batch_id = 'relay-derivs/binance:btcusdt:derivative_ticker/1'`;
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('derivative_tickers')} ${where}`), 6);
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('derivative_tickers_dedup')} ${where}`), 3);
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('coverage_dedup')} ${where}`), 1);
    const [rows] = await h.bigquery.query({
      query:
        `SELECT row_id, last_price, open_interest, funding_rate, UNIX_MICROS(funding_ts) AS funding_us, ` +
        `predicted_funding_rate, index_price, mark_price, UNIX_MICROS(exchange_ts) AS ts ` +
        `FROM ${h.table('derivative_tickers_dedup')} ${where} ORDER BY exchange_ts`,
    });
    t.deepEqual(
      (rows as Record<string, unknown>[]).map((r) => ({
        ...r,
        funding_us: Number(r.funding_us),
        ts: Number(r.ts),
      })),
      ticks.map((tick) => {
        if (tick.type !== 'derivative_ticker') throw new Error('not a ticker');
        return {
          row_id: rowId(tick),
          last_price: tick.lastPrice ?? null,
          open_interest: tick.openInterest ?? null,
          funding_rate: tick.fundingRate ?? null,
          funding_us: tick.fundingTs,
          predicted_funding_rate: tick.predictedFundingRate ?? null,
          index_price: tick.indexPrice ?? null,
          mark_price: tick.markPrice ?? null,
          ts: tick.ts,
        };
      }),
    );
  },
);

test.serial(
  'liquidations are stored by id or content hash; an invalid one is quarantined alone',
  async (t) => {
    const ticks = [liquidation(0), liquidation(1, { id: '88001' }), liquidation(2, { amount: 0 })];
    const message = encodeBatch(batchOf(ticks, 2));
    for (const id of ['l-1', 'l-1-again']) {
      const reply = await h.post(pushEnvelope(message, id));
      t.like(reply.body, { status: 200, outcome: 'committed', rows: 2, quarantined: 1 });
    }
    const where = `WHERE batch_id = 'relay-derivs/binance:btcusdt:liquidation/2'`;
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('liquidations')} ${where}`), 4);
    const [rows] = await h.bigquery.query({
      query: `SELECT row_id, liquidation_id, price, amount, side FROM ${h.table('liquidations_dedup')} ${where} ORDER BY exchange_ts`,
    });
    t.deepEqual(rows, [
      { row_id: rowId(ticks[0]!), liquidation_id: null, price: 36950, amount: 0.125, side: 'sell' },
      { row_id: 'binance:btcusdt:l:88001', liquidation_id: '88001', price: 36951, amount: 0.25, side: 'buy' },
    ]);
    const reason = `SELECT COUNT(*) FROM ${h.table('quarantine_dedup')} WHERE batch_id = 'relay-derivs/binance:btcusdt:liquidation/2'`;
    t.is(await h.scalar(`${reason} AND detail = 'amount is not a positive finite number'`), 1);
  },
);

test.serial(
  'a message of a new type in a format that cannot carry it is quarantined whole, never misread',
  async (t) => {
    const batch = batchOf([liquidation(0)], 3);
    const { attributes } = encodeBatch(batch);
    // What no v1 relay ever sent: a v1 body claiming a liquidation stream (an empty trade batch, relabelled).
    const v1 = encodeBatchV1({ ...batch, stream: { ...batch.stream, type: 'trade' }, ticks: [], rowIds: [] });
    const data = Buffer.from(v1.data.toString().replace('"k":"trade"', '"k":"liquidation"'));
    t.regex(data.toString(), /"v":1,.*"k":"liquidation"/);
    const reply = await h.post(pushEnvelope({ data, attributes: { ...attributes, schema: '1' } }, 'v1-liq'));
    t.is(reply.status, 200);
    const quarantined = `SELECT COUNT(*) FROM ${h.table('quarantine')} WHERE message_id = 'v1-liq'`;
    t.is(await h.scalar(`${quarantined} AND reason = 'unknown_data_type'`), 1);
    t.is(
      await h.scalar(`SELECT COUNT(*) FROM ${h.table('coverage')} WHERE batch_id LIKE 'relay-derivs/%/3'`),
      0,
    );
  },
);
