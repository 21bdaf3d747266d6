import test from 'ava';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { decodeBatch } from '../../functions/core/contract/decode.ts';
import { encodeBatchV1 } from '../../functions/core/contract/message-v1.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { QuoteTick, Tick } from '../../functions/core/model/tick.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { trade } from '../support/ticks.ts';

const quote = (overrides: Partial<QuoteTick> = {}): QuoteTick => ({
  type: 'book_ticker',
  exchange: 'binance',
  symbol: 'btcusdt',
  bidPrice: 37000.1,
  bidAmount: 1.5,
  askPrice: 37000.2,
  askAmount: 0.25,
  ts: 1_700_000_000_000_000,
  localTs: 1_700_000_000_000_000,
  ...overrides,
});

const batchOf = (...ticks: QuoteTick[]): Batch => ({
  stream: { exchange: 'binance', symbol: 'btcusdt', type: 'book_ticker' },
  relayId: 'relay-1',
  seq: 3,
  window: { from: 1_700_000_000_000, to: 1_700_000_000_100 },
  ticks,
  rowIds: ticks.map(rowId),
});

test('a quote with an update id gets the row id exchange:symbol:q:<u>', (t) => {
  t.is(rowId(quote({ updateId: '400900217' })), 'binance:btcusdt:q:400900217');
  t.regex(rowId(quote()), /^binance:btcusdt:q:[A-Za-z0-9_-]{22}$/, 'without one, the content hash as before');
});

test('the same book ticker received at different times has one row id (live vs history)', (t) => {
  // tardis-dev stamps Binance spot book tickers with the receive time: ts differs between recorders.
  const live = quote({ updateId: '77', ts: 1_700_000_000_123_000, localTs: 1_700_000_000_123_000 });
  const history = quote({ updateId: '77', ts: 1_700_000_000_131_456, localTs: 1_700_000_000_131_456 });
  t.is(rowId(live), rowId(history));
  t.not(rowId({ ...live, updateId: undefined }), rowId({ ...history, updateId: undefined }));
});

test('v1: the update id travels as an optional 8th element and round-trips', (t) => {
  const batch = batchOf(quote({ updateId: '1' }), quote({ updateId: '2', bidPrice: undefined }));
  const { data } = encodeBatchV1(batch);
  const body = JSON.parse(data.toString()) as { t: unknown[][] };
  t.deepEqual(
    body.t.map((row) => row.length),
    [8, 8],
  );
  t.is(body.t[0]![7], '1');
  const decoded = decodeBatch(data);
  t.deepEqual(decoded.undecodable, []);
  t.deepEqual(decoded.batch, batch);
  // The writer's identity check: the decoded tick yields the row id the relay sent.
  t.deepEqual(decoded.batch.ticks.map(rowId), batch.rowIds);
});

test('v1 quotes without an update id keep the 7-element form and still decode', (t) => {
  const batch = batchOf(quote());
  const { data } = encodeBatchV1(batch);
  t.is((JSON.parse(data.toString()) as { t: unknown[][] }).t[0]!.length, 7);
  t.deepEqual(decodeBatch(data).batch, batch);
  // A message from before the change, written by hand.
  const old = {
    v: 1,
    e: 'binance',
    s: 'btcusdt',
    k: 'book_ticker',
    r: 'relay-0',
    q: 0,
    w: [1, 2],
    t: [['binance:btcusdt:q:abc', 1, 2, 3, 4, 5, 6]],
  };
  const { batch: decoded, undecodable } = decodeBatch(Buffer.from(JSON.stringify(old)));
  t.deepEqual(undecodable, []);
  t.is((decoded.ticks[0] as QuoteTick).updateId, undefined);
});

test('an 8th element that is not a non-empty string (or null) makes only that tick undecodable', (t) => {
  const body = {
    v: 1,
    e: 'binance',
    s: 'btcusdt',
    k: 'book_ticker',
    r: 'relay-0',
    q: 0,
    w: [1, 2],
    t: [
      ['a', 1, 2, 3, 4, 5, 6, '9'],
      ['b', 1, 2, 3, 4, 5, 6, null],
      ['c', 1, 2, 3, 4, 5, 6, 9],
      ['d', 1, 2, 3, 4, 5, 6, ''],
      ['e', 1, 2, 3, 4, 5, 6, '9', 'extra'],
    ],
  };
  const { batch, undecodable } = decodeBatch(Buffer.from(JSON.stringify(body)));
  t.deepEqual(
    batch.ticks.map((q) => (q as QuoteTick).updateId),
    ['9', undefined],
  );
  t.deepEqual(
    undecodable.map((u) => [u.index, u.reason]),
    [
      [2, 'quote update id is not a non-empty string'],
      [3, 'quote update id is not a non-empty string'],
      [4, 'quote tick must have 7 or 8 fields'],
    ],
  );
});

test('the v1 encoding is byte for byte JSON.stringify of the v1 body, awkward values included', (t) => {
  const random = seededRandom(99);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const numbers = [
    0,
    -0,
    1.5,
    37000.1,
    1e21,
    1e-7,
    0.1 + 0.2,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    123456789012345,
  ];
  const strings = ['1001', 'a"b', 'back\\slash', 'ünï', 'tab\there', '', 'x/y-z.w:1'];
  for (let round = 0; round < 200; round++) {
    const type = pick(['trade', 'book_ticker', 'book_change'] as const);
    const symbol = pick(['btcusdt', 'btc-usd', 'we"ird']);
    const ticks: Tick[] = Array.from({ length: Math.floor(random() * 4) }, (): Tick => {
      const base = { exchange: 'binance', symbol, ts: 1_700_000_000_000_000, localTs: 1_700_000_000_000_123 };
      if (type === 'trade') {
        return {
          ...base,
          type,
          id: pick([undefined, ...strings]),
          price: pick(numbers),
          amount: pick(numbers),
          side: pick(['buy', 'sell', 'unknown'] as const),
        };
      }
      if (type === 'book_ticker') {
        return {
          ...base,
          type,
          bidPrice: pick([undefined, ...numbers]),
          bidAmount: pick(numbers),
          askPrice: pick(numbers),
          askAmount: undefined,
          ...(random() < 0.5 ? { updateId: pick(strings) } : {}),
        };
      }
      return {
        ...base,
        type,
        isSnapshot: random() < 0.5,
        bids: [{ price: pick(numbers), amount: pick(numbers) }],
        asks: [],
      };
    });
    const batch: Batch = {
      stream: { exchange: 'binance', symbol, type },
      relayId: pick(['relay-1', 'r"x']),
      seq: round,
      window: { from: 1, to: 2 },
      ticks,
      rowIds: ticks.map(() => pick(strings)),
    };
    t.is(encodeBatchV1(batch).data.toString(), reference(batch));
  }
});

/** The v1 body through JSON.stringify, as the encoder was first written. */
function reference(batch: Batch): string {
  const rows = batch.ticks.map((tick, i) => {
    const id = batch.rowIds[i];
    switch (tick.type) {
      case 'trade':
        return [id, tick.id ?? null, tick.price, tick.amount, tick.side, tick.ts, tick.localTs];
      case 'book_ticker': {
        const row: unknown[] = [
          id,
          tick.bidPrice ?? null,
          tick.bidAmount ?? null,
          tick.askPrice ?? null,
          tick.askAmount ?? null,
          tick.ts,
          tick.localTs,
        ];
        if (tick.updateId !== undefined) row.push(tick.updateId);
        return row;
      }
      case 'book_change':
        return [
          id,
          tick.isSnapshot ? 1 : 0,
          tick.bids.map((l) => [l.price, l.amount]),
          tick.asks.map((l) => [l.price, l.amount]),
          tick.ts,
          tick.localTs,
        ];
    }
  });
  const { stream, window } = batch;
  return JSON.stringify({
    v: 1,
    e: stream.exchange,
    s: stream.symbol,
    k: stream.type,
    r: batch.relayId,
    q: batch.seq,
    w: [window.from, window.to],
    t: rows,
  });
}

test('v1: prices, sizes and timestamps are written exactly as JSON.stringify writes them', (t) => {
  const random = seededRandom(2024);
  const values: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const k = Math.floor(random() * 9);
    const digits = Math.floor(random() * 12) + 1;
    const n = Math.floor(random() * 10 ** digits);
    values.push(n / 10 ** k, (n + 0.5) / 10 ** k, random() * 10 ** (Math.floor(random() * 10) - 3));
  }
  values.push(0.1 + 0.2, 1e-7, 9_999_999.99999999, 1e7, 5e-324, 0.000001, 123456.7890123);
  const ticks: Tick[] = [];
  for (let i = 0; i + 1 < values.length; i += 2) {
    const ts = Math.floor(random() * 2 ** 53);
    ticks.push({ ...trade(i), price: values[i]!, amount: values[i + 1]!, ts, localTs: ts % 1e7 });
  }
  const batch: Batch = {
    stream: { exchange: 'binance', symbol: 'btcusdt', type: 'trade' },
    relayId: 'r',
    seq: 0,
    window: { from: 0, to: 1 },
    ticks,
    rowIds: ticks.map(rowId),
  };
  t.is(encodeBatchV1(batch).data.toString(), reference(batch));
});
