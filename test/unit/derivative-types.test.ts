import test from 'ava';
import { normalizeDerivativeTickers, normalizeLiquidations } from 'tardis-dev';
import { fromTardis } from '../../functions/adapters/tardis/mapping.ts';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { decodeBatch } from '../../functions/core/contract/decode.ts';
import { MessageDecodeError } from '../../functions/core/contract/decoded-batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { encodeBatchV1 } from '../../functions/core/contract/message-v1.ts';
import { tickToRow } from '../../functions/core/contract/rows.ts';
import { TABLE_FOR_TYPE, TABLES } from '../../functions/core/contract/schema.ts';
import { TickColumns } from '../../functions/core/contract/tick-columns.ts';
import { carriedRowId, rowId } from '../../functions/core/model/row-id.ts';
import type { DerivativeTickerTick, Tick } from '../../functions/core/model/tick.ts';
import { invalidTickValues } from '../../functions/core/model/validate.ts';
import { derivativeTicker, liquidation } from '../support/ticks.ts';

const NOW = Date.UTC(2026, 0, 2);

function relayBatch(ticks: Tick[]): Batch {
  return {
    stream: { exchange: 'binance', symbol: 'btcusdt', type: ticks[0]!.type },
    relayId: 'relay-1',
    seq: 9,
    window: { from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 1) + 100 },
    ticks,
    rowIds: ticks.map(carriedRowId),
  };
}

function headerOf(data: Buffer): Record<string, unknown> {
  return JSON.parse(data.subarray(0, data.indexOf(0x0a)).toString()) as Record<string, unknown>;
}

/** A ticker without an event key (the key absent, not undefined). */
function unkeyedTicker(n: number, overrides: Partial<DerivativeTickerTick> = {}): DerivativeTickerTick {
  const { eventKey, ...rest } = derivativeTicker(n, overrides);
  void eventKey;
  return rest;
}

test('v3 round-trips derivative tickers value for value, unknown values and missing keys too', (t) => {
  const ticks = [
    derivativeTicker(0),
    derivativeTicker(1, { openInterest: undefined, fundingTs: undefined, lastPrice: undefined }),
    unkeyedTicker(2),
    derivativeTicker(3, { fundingRate: -0.00075, predictedFundingRate: 0 }),
  ];
  const batch = relayBatch(ticks);
  const message = encodeBatch(batch);
  t.is(message.attributes.type, 'derivative_ticker');
  const header = headerOf(message.data);
  t.deepEqual(header.i, [ticks[0]!.eventKey, ticks[1]!.eventKey, null, ticks[3]!.eventKey]);
  t.deepEqual(header.h, [null, null, rowId(ticks[2]!), null], 'only the unkeyed ticker carries its id');
  const decoded = decodeBatch(message.data);
  t.deepEqual(decoded.undecodable, []);
  t.deepEqual(decoded.batch, { ...batch, rowIds: ticks.map(rowId) });
});

test('v3 round-trips liquidations with and without an exchange id', (t) => {
  const ticks = [liquidation(0), liquidation(1, { id: '9123' }), liquidation(2, { side: 'unknown' })];
  const batch = relayBatch(ticks);
  const decoded = decodeBatch(encodeBatch(batch).data);
  t.deepEqual(decoded.undecodable, []);
  t.deepEqual(decoded.batch, { ...batch, rowIds: ticks.map(rowId) });
  t.is(decoded.batch.rowIds[1], 'binance:btcusdt:l:9123');
  t.regex(decoded.batch.rowIds[0]!, /^binance:btcusdt:lh:[A-Za-z0-9_-]{22}$/);
});

test('a relay cuts derivative ticker batches at any prefix and keeps the rest', (t) => {
  const ticks = [derivativeTicker(0), unkeyedTicker(1), derivativeTicker(2), unkeyedTicker(3)];
  const columns = new TickColumns('derivative_ticker', 1);
  for (const tick of ticks) columns.push(tick, carriedRowId(tick));
  const head = relayBatch(ticks);
  const first = decodeBatch(columns.encode(head, 3)).batch;
  t.deepEqual(first.ticks, ticks.slice(0, 3));
  t.deepEqual(first.rowIds, ticks.slice(0, 3).map(rowId));
  columns.drop(3);
  const rest = decodeBatch(columns.encode(head, 1)).batch;
  t.deepEqual(rest.ticks, ticks.slice(3));
  t.deepEqual(rest.rowIds, [rowId(ticks[3]!)]);
});

test('row ids: keyed by event key or liquidation id, else a hash without the local receive time', (t) => {
  const ticker = derivativeTicker(4);
  t.is(rowId(ticker), `binance:btcusdt:d:${ticker.eventKey}`);
  // A replay that starts mid-stream merges less state: same raw message, same id.
  t.is(rowId({ ...ticker, openInterest: undefined, lastPrice: undefined }), rowId(ticker));
  const unkeyed = unkeyedTicker(4);
  t.regex(rowId(unkeyed), /^binance:btcusdt:dh:[A-Za-z0-9_-]{22}$/);
  t.is(rowId({ ...unkeyed, localTs: unkeyed.localTs + 5 }), rowId(unkeyed));
  t.not(rowId({ ...unkeyed, markPrice: 1 }), rowId(unkeyed));
  t.not(rowId({ ...unkeyed, fundingTs: undefined }), rowId(unkeyed));

  const hashed = liquidation(1);
  t.is(rowId({ ...hashed, localTs: hashed.localTs + 77 }), rowId(hashed));
  for (const change of [{ ts: hashed.ts + 1 }, { price: 1 }, { amount: 9 }, { side: 'sell' as const }]) {
    t.not(rowId({ ...hashed, ...change }), rowId(hashed), JSON.stringify(change));
  }
  t.is(rowId(liquidation(1, { id: '' })), rowId(hashed), 'an empty id is no key');
  t.not(rowId(hashed), rowId({ ...hashed, type: 'trade' }), 'a trade of the same values is another event');
});

test('tardis-dev merges ticker channels: a replay from mid-stream differs in values, not in event keys', (t) => {
  // Binance USD-M frames as tardis-dev's mapper reads them (markPrice, then ticker, then markPrice).
  const frames = [
    {
      stream: 'btcusdt@markPrice',
      data: {
        e: 'markPriceUpdate',
        E: 1767225600000,
        s: 'BTCUSDT',
        p: '37000.12',
        i: '36999.80',
        r: '0.0001',
        T: 1767254400000,
      },
    },
    { stream: 'btcusdt@ticker', data: { e: '24hrTicker', E: 1767225600500, s: 'BTCUSDT', c: '37001.50' } },
    {
      stream: 'btcusdt@markPrice',
      data: {
        e: 'markPriceUpdate',
        E: 1767225601000,
        s: 'BTCUSDT',
        p: '37000.56',
        i: '36999.90',
        r: '0.0001',
        T: 1767254400000,
      },
    },
  ];
  // The key a descriptor's `derivativeTickerEventKey` would read: channel and exchange event time.
  const keyOf = (f: (typeof frames)[number]) => `${f.stream.split('@')[1]}:${f.data.E}`;
  const run = (from: number) => {
    const local = new Date(1767225602000);
    const mapper = normalizeDerivativeTickers('binance-futures', local);
    const out: Tick[] = [];
    for (const frame of frames.slice(from)) {
      for (const n of mapper.map(frame as never, local) ?? []) out.push(fromTardis(n, keyOf(frame))!);
    }
    return out;
  };
  const live = run(0);
  const replay = run(1);
  t.is(live.length, 3);
  t.not((live[2] as DerivativeTickerTick).indexPrice, undefined);
  t.is((replay[0] as DerivativeTickerTick).markPrice, undefined, 'the replay has not seen a mark price yet');
  t.notDeepEqual(
    { ...replay[0], localTs: 0 },
    { ...live[1], localTs: 0 },
    'the merged states differ, so a content hash would differ',
  );
  t.deepEqual(replay.map(rowId), live.slice(1).map(rowId));
  t.is(rowId(live[2]!), 'binance-futures:btcusdt:d:markPrice:1767225601000');
  t.is((live[2] as DerivativeTickerTick).fundingTs, 1767254400000 * 1000);
});

test('a liquidation maps from tardis-dev without its local time in the id', (t) => {
  const frame = {
    stream: 'btcusdt@forceOrder',
    data: {
      e: 'forceOrder',
      E: 1767225600123,
      o: {
        s: 'BTCUSDT',
        S: 'SELL',
        o: 'LIMIT',
        q: '0.014',
        p: '36950.10',
        ap: '36951.00',
        X: 'FILLED',
        l: '0.014',
        z: '0.014',
        T: 1767225600120,
      },
    },
  };
  const ids = [1767225600200, 1767225609999].map((local) => {
    const mapper = normalizeLiquidations('binance-futures', new Date(local));
    const [normalized] = [...(mapper.map(frame as never, new Date(local)) ?? [])];
    const tick = fromTardis(normalized!)!;
    t.like(tick, {
      type: 'liquidation',
      symbol: 'btcusdt',
      side: 'sell',
      price: 36950.1,
      amount: 0.014,
      id: undefined,
    });
    return rowId(tick);
  });
  t.is(ids[0], ids[1]);
});

test('message v1 and v2 cannot carry the new types; an unknown type is refused by name', (t) => {
  t.throws(() => encodeBatchV1(relayBatch([liquidation(0)])), {
    message: /v1 has no layout for liquidation/,
  });
  const v1 = Buffer.from(
    JSON.stringify({ v: 1, e: 'binance', s: 'btcusdt', k: 'liquidation', r: 'r1', q: 0, w: [1, 2], t: [] }),
  );
  const refusal = (data: Buffer) => t.throws(() => decodeBatch(data), { instanceOf: MessageDecodeError });
  t.is(refusal(v1)?.reason, 'unknown_data_type');
  const v3 = encodeBatch(relayBatch([derivativeTicker(0)])).data;
  const v2 = Buffer.from(v3.toString('latin1').replace('{"v":3,', '{"v":2,'), 'latin1');
  t.is(refusal(v2)?.reason, 'unknown_data_type');
  const future = Buffer.from(
    v3.toString('latin1').replace('"k":"derivative_ticker"', '"k":"options_chain"'),
    'latin1',
  );
  const error = refusal(future);
  t.is(error?.reason, 'unknown_data_type');
  t.regex(error?.message ?? '', /unknown data type "options_chain" \(this writer reads .*liquidation\)/);
});

test('a corrupt event key or funding time refuses only its tick', (t) => {
  const ticks = [derivativeTicker(0), derivativeTicker(1)];
  const data = encodeBatch(relayBatch(ticks)).data;
  const text = data.toString('latin1');
  const badKey = Buffer.from(text.replace(`"${ticks[1]!.eventKey}"`, '42'), 'latin1');
  const decoded = decodeBatch(badKey);
  t.is(decoded.batch.ticks.length, 1);
  t.deepEqual(
    decoded.undecodable.map((u) => [u.index, u.reason]),
    [[1, 'event key is not a non-empty string']],
  );
  // funding_ts is the fourth column: make tick 0's a fraction.
  const start = data.indexOf(0x0a) + 1;
  const fraction = Buffer.from(data);
  fraction.writeDoubleLE(1.5, start + 8 * 2 * 3);
  t.deepEqual(
    decodeBatch(fraction).undecodable.map((u) => [u.index, u.reason]),
    [[0, 'funding timestamp is not an integer']],
  );
});

test('writer validation accepts real ticker and liquidation values and refuses impossible ones', (t) => {
  t.is(invalidTickValues(derivativeTicker(0), NOW), undefined, 'a negative funding rate is valid');
  t.is(invalidTickValues(unkeyedTicker(1, { markPrice: undefined, openInterest: 0 }), NOW), undefined);
  const tickerCases: [Partial<DerivativeTickerTick>, string][] = [
    [{ markPrice: 0 }, 'ticker price is not a positive finite number'],
    [{ indexPrice: Number.NaN }, 'ticker price is not a positive finite number'],
    [{ lastPrice: -1 }, 'ticker price is not a positive finite number'],
    [{ openInterest: -1 }, 'open interest is invalid'],
    [{ fundingRate: Number.POSITIVE_INFINITY }, 'funding rate is not a finite number'],
    [{ predictedFundingRate: Number.NaN }, 'funding rate is not a finite number'],
    [{ fundingTs: 1000 }, 'funding timestamp is invalid'],
    [{ eventKey: 'x'.repeat(65) }, 'event key is too long'],
  ];
  for (const [change, reason] of tickerCases)
    t.is(invalidTickValues(derivativeTicker(2, change), NOW), reason);
  t.is(invalidTickValues(liquidation(0, { id: '77' }), NOW), undefined);
  t.is(invalidTickValues(liquidation(0, { price: 0 }), NOW), 'price is not a positive finite number');
  t.is(
    invalidTickValues(liquidation(0, { amount: Number.NaN }), NOW),
    'amount is not a positive finite number',
  );
  t.is(invalidTickValues(liquidation(0, { id: '9'.repeat(65) }), NOW), 'liquidation id is too long');
});

test('rows of the new types have exactly the columns of their tables', (t) => {
  const meta = { ingestedAt: NOW, source: 'live' as const, relayId: 'relay-1', batchId: 'b' };
  for (const tick of [derivativeTicker(1, { openInterest: undefined }), liquidation(2, { id: '5' })]) {
    const row = tickToRow(tick, rowId(tick), meta);
    const table = TABLES[TABLE_FOR_TYPE[tick.type]];
    t.deepEqual(Object.keys(row).sort(), table.fields.map((f) => f.name).sort());
    for (const field of table.fields) {
      if (field.mode === 'REQUIRED') t.not(row[field.name], null, `${table.name}.${field.name}`);
    }
  }
  const row = tickToRow(derivativeTicker(0), 'id', meta);
  t.is(row.funding_ts, '2026-01-01T08:00:00.000000Z');
  t.is(tickToRow(unkeyedTicker(0, { fundingTs: undefined }), 'id', meta).funding_ts, null);
});
