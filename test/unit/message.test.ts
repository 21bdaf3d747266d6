import test from 'ava';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { decodeBatch } from '../../functions/core/contract/decode.ts';
import { MessageDecodeError } from '../../functions/core/contract/decoded-batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { BookChangeTick, QuoteTick } from '../../functions/core/model/tick.ts';
import { trade } from '../support/ticks.ts';

const stream = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;

test('a trade batch survives encode and decode unchanged', (t) => {
  const ticks = [trade(1), trade(2), trade(3, { id: undefined })];
  const batch: Batch = {
    stream,
    relayId: 'r1',
    seq: 7,
    window: { from: 10, to: 20 },
    ticks,
    rowIds: ticks.map(rowId),
  };
  const message = encodeBatch(batch);
  t.is(message.attributes.schema, '3');
  t.is(message.attributes.batch, 'r1/binance:btcusdt:trade/7');
  t.is(message.attributes.count, '3');
  const { batch: decoded, undecodable } = decodeBatch(message.data);
  t.deepEqual(undecodable, []);
  t.deepEqual(decoded, batch);
});

test('quote and book change ticks round-trip through the v1 format', (t) => {
  const quote: QuoteTick = {
    type: 'book_ticker',
    exchange: 'binance',
    symbol: 'ethusdt',
    bidPrice: 2000.1,
    bidAmount: 1.5,
    askPrice: undefined,
    askAmount: undefined,
    ts: 1_700_000_000_000_000,
    localTs: 1_700_000_000_001_000,
  };
  const book: BookChangeTick = {
    type: 'book_change',
    exchange: 'binance',
    symbol: 'ethusdt',
    isSnapshot: true,
    bids: [{ price: 1, amount: 2 }],
    asks: [],
    ts: 1_700_000_000_000_000,
    localTs: 1_700_000_000_000_500,
  };
  for (const tick of [quote, book]) {
    const batch: Batch = {
      stream: { exchange: 'binance', symbol: 'ethusdt', type: tick.type },
      relayId: 'r',
      seq: 0,
      window: { from: 1, to: 2 },
      ticks: [tick],
      rowIds: [rowId(tick)],
    };
    t.deepEqual(decodeBatch(encodeBatch(batch).data).batch, batch);
  }
});

test('an unknown schema version is a decode error with a reason', (t) => {
  const error = t.throws(() => decodeBatch(Buffer.from(JSON.stringify({ v: 99 }))), {
    instanceOf: MessageDecodeError,
  });
  t.is(error?.reason, 'unknown_schema_version');
});

test('garbage bytes are a decode error, not a crash', (t) => {
  t.throws(() => decodeBatch(Buffer.from([0xff, 0x00, 0x12])), { instanceOf: MessageDecodeError });
  t.throws(() => decodeBatch(Buffer.from('[1,2,3]')), { instanceOf: MessageDecodeError });
});

test('one malformed tick is reported by index while its neighbours decode', (t) => {
  const body = {
    v: 1,
    e: 'binance',
    s: 'btcusdt',
    k: 'trade',
    r: 'r',
    q: 0,
    w: [0, 5],
    t: [
      ['binance:btcusdt:t:1', '1', 1, 1, 'buy', 1, 1],
      ['binance:btcusdt:t:2', '2', 'NaN', 1, 'buy', 1, 1],
      'nonsense',
    ],
  };
  const { batch, undecodable } = decodeBatch(Buffer.from(JSON.stringify(body)));
  t.is(batch.ticks.length, 1);
  t.deepEqual(
    undecodable.map((u) => u.index),
    [1, 2],
  );
});

test('row ids are the same for the same exchange event whatever its receive time', (t) => {
  t.is(rowId(trade(5)), 'binance:btcusdt:t:1005');
  const a = trade(5, { id: undefined });
  const b = trade(5, { id: undefined, localTs: a.localTs + 999_999 });
  t.is(rowId(a), rowId(b));
  t.not(rowId(a), rowId(trade(5, { id: undefined, price: 1 })));
});
