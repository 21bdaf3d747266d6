import test from 'ava';
import type { Exchange, Mapper, NormalizedData } from 'tardis-dev';
import { fromTardis } from '../../functions/adapters/tardis/mapping.ts';
import { TICK_NORMALIZERS } from '../../functions/adapters/tardis/normalizers.ts';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { decodeBatch } from '../../functions/core/contract/decode.ts';
import { MessageDecodeError } from '../../functions/core/contract/decoded-batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { encodeBatchV1 } from '../../functions/core/contract/message-v1.ts';
import { carriedRowId, rowId } from '../../functions/core/model/row-id.ts';
import type { BookChangeTick, QuoteTick, Tick } from '../../functions/core/model/tick.ts';
import { TickColumns } from '../../functions/core/contract/tick-columns.ts';
import { invalidTickValues } from '../../functions/core/model/validate.ts';
import { trade } from '../support/ticks.ts';

const T0 = Date.UTC(2026, 0, 1) * 1000;

const quote = (n: number, overrides: Partial<QuoteTick> = {}): QuoteTick => ({
  type: 'book_ticker',
  exchange: 'binance',
  symbol: 'btcusdt',
  bidPrice: 37000.1 + n,
  bidAmount: 1.5,
  askPrice: 37000.2 + n,
  askAmount: 0.25,
  ts: T0 + n * 1000,
  localTs: T0 + n * 1000 + 7,
  updateId: String(400900217 + n),
  ...overrides,
});

const book = (n: number, overrides: Partial<BookChangeTick> = {}): BookChangeTick => ({
  type: 'book_change',
  exchange: 'binance',
  symbol: 'btcusdt',
  isSnapshot: n === 0,
  bids: [
    { price: 37000.1, amount: 1.25 },
    { price: 36999.9, amount: 0 },
  ].slice(0, 1 + (n % 2)),
  asks: n % 3 === 0 ? [] : [{ price: 37000.3, amount: 0.1 + n }],
  ts: T0 + n * 1000,
  localTs: T0 + n * 1000 + 3,
  ...overrides,
});

/** A quote whose update id the exchange sent as a number (Binance `u`, Coinbase `sequence`). */
const numberedQuote = (n: number, overrides: Partial<QuoteTick> = {}): QuoteTick =>
  quote(n, { updateId: 400900217 + n, ...overrides });

/** A quote without an exchange update id (the key absent, not undefined). */
function unkeyedQuote(n: number, overrides: Partial<QuoteTick> = {}): QuoteTick {
  const { updateId, ...rest } = quote(n, overrides);
  void updateId;
  return rest;
}

/** The batch the relay hands to the encoder: keyed ids left unbuilt (see carriedRowId). */
function relayBatch(ticks: Tick[]): Batch {
  return {
    stream: { exchange: 'binance', symbol: 'btcusdt', type: ticks[0]!.type },
    relayId: 'relay-1',
    seq: 4,
    window: { from: Math.floor(T0 / 1000), to: Math.floor(T0 / 1000) + 100 },
    ticks,
    rowIds: ticks.map(carriedRowId),
  };
}

/** The one-line JSON header of a v2 or v3 message. */
function headerOf(data: Buffer): Record<string, unknown> {
  return JSON.parse(data.subarray(0, data.indexOf(0x0a)).toString()) as Record<string, unknown>;
}

test('v3 round-trips trades, quotes (absent sides too) and book changes value for value', (t) => {
  const cases: Tick[][] = [
    [trade(1), trade(2, { side: 'unknown', price: 0.1 + 0.2 }), trade(3, { id: undefined })],
    [quote(1), quote(2, { bidPrice: undefined, bidAmount: undefined }), unkeyedQuote(3)],
    // Update ids as the exchange sent them, numbers: they travel as the key column.
    [
      numberedQuote(1),
      numberedQuote(2, { updateId: 2 ** 53 - 1 }),
      unkeyedQuote(3),
      numberedQuote(4, { updateId: 0 }),
    ],
    [book(0), book(1), book(2), book(3, { bids: [], asks: [] })],
  ];
  for (const ticks of cases) {
    const batch = relayBatch(ticks);
    const message = encodeBatch(batch);
    t.is(message.attributes.schema, '3');
    t.is(message.attributes.count, String(ticks.length));
    const decoded = decodeBatch(message.data);
    t.deepEqual(decoded.undecodable, []);
    t.deepEqual(decoded.batch, { ...batch, rowIds: ticks.map(rowId) });
  }
});

test('v3 carries only content-hash row ids; keyed ids are derived by the reader', (t) => {
  const keyed = encodeBatch(relayBatch([trade(1), trade(2)])).data;
  t.false('h' in headerOf(keyed), 'no id travels when every trade has an exchange trade id');
  t.deepEqual(decodeBatch(keyed).batch.rowIds, ['binance:btcusdt:t:1001', 'binance:btcusdt:t:1002']);

  const mixed = [trade(1), trade(2, { id: undefined })];
  const header = headerOf(encodeBatch(relayBatch(mixed)).data);
  t.deepEqual(header.h, [null, rowId(mixed[1]!)]);
  t.regex(String((header.h as unknown[])[1]), /^binance:btcusdt:th:[A-Za-z0-9_-]{22}$/);
});

test('live relay, writer and gap-filler give every tick the same row id', (t) => {
  // Raw Binance frames through the history replay's normalizers; the live feed's RawTickNormalizer gives
  // the same ticks (test/unit/relay-tardis.test.ts).
  const frames = [
    {
      stream: 'btcusdt@trade',
      data: { e: 'trade', E: 1, s: 'BTCUSDT', t: 1001, p: '37000.10', q: '0.005', T: 1767225600001, m: true },
    },
    {
      stream: 'btcusdt@bookTicker',
      data: { u: 400900217, s: 'BTCUSDT', b: '37000.10', B: '1.5', a: '37000.20', A: '0.25' },
    },
  ];
  const local = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 9));
  const ticks: Tick[] = [];
  for (const type of ['trade', 'book_ticker'] as const) {
    const mapper = TICK_NORMALIZERS[type]('binance' as Exchange, local) as Mapper<Exchange, NormalizedData>;
    for (const frame of frames) {
      if (!mapper.canHandle(frame)) continue;
      for (const normalized of mapper.map(frame, local) ?? []) ticks.push(fromTardis(normalized)!);
    }
  }
  // The gap-filler stores rowId(tick) of the history ticks (gapfill-service.ts), v1 relays sent it too.
  t.deepEqual(ticks.map(rowId), ['binance:btcusdt:t:1001', 'binance:btcusdt:q:400900217']);
  for (const tick of ticks) {
    const batch = relayBatch([tick]);
    // What the writer stores from the live relay's v3 message, and from a v1 relay's message.
    t.deepEqual(decodeBatch(encodeBatch(batch).data).batch.rowIds, [rowId(tick)]);
    t.deepEqual(decodeBatch(encodeBatchV1(batch).data).batch.rowIds, [rowId(tick)]);
  }
  // A tick without an exchange key: the relay's content hash travels and equals the gap-filler's.
  const unkeyed = { ...(ticks[0] as Tick & { type: 'trade' }), id: undefined };
  t.deepEqual(decodeBatch(encodeBatch(relayBatch([unkeyed])).data).batch.rowIds, [rowId(unkeyed)]);
});

test('numeric update ids travel as a float64 column; a batch with a text id sends every id as text', (t) => {
  const numbered = [numberedQuote(1), unkeyedQuote(2), numberedQuote(3)];
  const data = encodeBatch(relayBatch(numbered)).data;
  const header = headerOf(data);
  t.false('u' in header, 'no update id text in the header');
  // Six value columns and the key column (NaN for the quote without an id).
  t.is(data.length - data.indexOf(0x0a) - 1, 8 * 7 * numbered.length);
  t.deepEqual(
    decodeBatch(data).batch.ticks.map((q) => (q as QuoteTick).updateId),
    [400900218, undefined, 400900220],
  );

  // One id sent as text (an exchange that quotes its ids): the batch's ids all go in the header as text,
  // and every row id is the same as it would be from numbers.
  const mixed = [numberedQuote(1), quote(2), unkeyedQuote(3)];
  const mixedData = encodeBatch(relayBatch(mixed)).data;
  t.deepEqual(headerOf(mixedData).u, ['400900218', '400900219', null]);
  t.is(mixedData.length - mixedData.indexOf(0x0a) - 1, 8 * 6 * mixed.length);
  t.deepEqual(decodeBatch(mixedData).batch.rowIds, mixed.map(rowId));
});

test('once a text update id is cut, the relay sends numeric ids as the column again', (t) => {
  const columns = new TickColumns('book_ticker', 2);
  for (const tick of [numberedQuote(1), quote(2), numberedQuote(3), numberedQuote(4)]) {
    columns.push(tick, carriedRowId(tick));
  }
  const head = (seq: number) => ({
    stream: relayBatch([quote(1)]).stream,
    relayId: 'r',
    seq,
    window: { from: 1, to: 2 },
  });
  const first = columns.encode(head(0), 1);
  t.deepEqual(headerOf(first).u, ['400900218'], 'a text id is held: ids go as text');
  columns.drop(1);
  const second = columns.encode(head(1), 1);
  t.deepEqual(headerOf(second).u, ['400900219']);
  columns.drop(1);
  const third = columns.encode(head(2), 2);
  t.false('u' in headerOf(third), 'only numeric ids are held: the key column again');
  t.deepEqual(
    decodeBatch(third).batch.ticks.map((q) => (q as QuoteTick).updateId),
    [400900220, 400900221],
  );
});

test('a text update id arriving after numeric ones sends each of them as its own text', (t) => {
  const columns = new TickColumns('book_ticker', 2);
  const head = { stream: relayBatch([quote(1)]).stream, relayId: 'r', seq: 0, window: { from: 1, to: 2 } };
  // A text id held, then cut: what it left behind must not be read as the ids of the next numeric quotes.
  columns.push(quote(1), undefined);
  columns.encode(head, 1);
  columns.drop(1);
  for (const tick of [numberedQuote(2), numberedQuote(3), unkeyedQuote(4), quote(5)]) {
    columns.push(tick, carriedRowId(tick));
  }
  const data = columns.encode(head, 4);
  t.deepEqual(headerOf(data).u, ['400900219', '400900220', null, '400900222']);
  t.deepEqual(decodeBatch(data).batch.rowIds, [
    'binance:btcusdt:q:400900219',
    'binance:btcusdt:q:400900220',
    rowId(unkeyedQuote(4)),
    'binance:btcusdt:q:400900222',
  ]);
});

test('a key column value that is no exchange id makes only its quote undecodable', (t) => {
  const ticks = [numberedQuote(1), numberedQuote(2), numberedQuote(3), numberedQuote(4), numberedQuote(5)];
  const data = Buffer.from(encodeBatch(relayBatch(ticks)).data);
  const keys = data.indexOf(0x0a) + 1 + 8 * 6 * ticks.length;
  for (const [i, bad] of [1.5, -1, 2 ** 53, Number.POSITIVE_INFINITY].entries()) {
    data.writeDoubleLE(bad, keys + 8 * (i + 1));
  }
  const { batch, undecodable } = decodeBatch(data);
  t.deepEqual(batch.rowIds, ['binance:btcusdt:q:400900218']);
  t.deepEqual(
    undecodable.map((u) => [u.index, u.reason, (u.raw as unknown[])[7]]),
    [
      [1, 'quote update id is not a non-negative integer', 1.5],
      [2, 'quote update id is not a non-negative integer', -1],
      [3, 'quote update id is not a non-negative integer', 2 ** 53],
      [4, 'quote update id is not a non-negative integer', Number.POSITIVE_INFINITY],
    ],
  );
});

test('v2 messages from relays of the previous version still decode; the key column is v3 only', (t) => {
  const ticks = [quote(1), unkeyedQuote(2)];
  // v2 is v3 with every update id as header text, which is how v3 sends text ids.
  const v3 = encodeBatch(relayBatch(ticks)).data;
  const newline = v3.indexOf(0x0a);
  const v2 = (header: Record<string, unknown>, columns: Buffer) =>
    Buffer.concat([Buffer.from(JSON.stringify({ ...header, v: 2 })), Buffer.from([0x0a]), columns]);
  const decoded = decodeBatch(v2(headerOf(v3), v3.subarray(newline + 1)));
  t.deepEqual(decoded.batch, { ...relayBatch(ticks), rowIds: ticks.map(rowId) });

  const numbered = encodeBatch(relayBatch([numberedQuote(1)])).data;
  const error = t.throws(
    () => decodeBatch(v2(headerOf(numbered), numbered.subarray(numbered.indexOf(0x0a) + 1))),
    { instanceOf: MessageDecodeError },
  );
  t.is(error?.reason, 'invalid_envelope_field');
});

test('v1 messages from relays of the previous version still decode, for every type', (t) => {
  for (const ticks of [[trade(1), trade(2, { id: undefined })], [quote(1), unkeyedQuote(2)], [book(1)]]) {
    const batch = { ...relayBatch(ticks), rowIds: ticks.map(rowId) };
    const { data } = encodeBatchV1(batch);
    t.is(JSON.parse(data.toString()).v, 1);
    t.deepEqual(decodeBatch(data).batch, batch);
  }
});

test('v3 is about half the size of v1', (t) => {
  const ticks = Array.from({ length: 100 }, (_, i) => trade(i));
  const v1 = encodeBatchV1({ ...relayBatch(ticks), rowIds: ticks.map(rowId) }).data.length;
  const v3 = encodeBatch(relayBatch(ticks)).data.length;
  t.true(v3 < 0.6 * v1, `v3 ${v3} B vs v1 ${v1} B`);
});

test('a v3 message whose columns do not match its header is refused whole', (t) => {
  const data = encodeBatch(relayBatch([trade(1), trade(2)])).data;
  for (const damaged of [
    data.subarray(0, data.length - 8),
    Buffer.concat([data, Buffer.alloc(8)]),
    data.subarray(0, data.indexOf(0x0a)),
  ]) {
    const error = t.throws(() => decodeBatch(damaged), { instanceOf: MessageDecodeError });
    t.is(error?.reason, 'invalid_envelope_field');
  }
  const header = headerOf(data);
  const rest = data.subarray(data.indexOf(0x0a));
  for (const bad of [{ n: 3 }, { i: ['1001'] }, { d: 'b' }, { h: [null] }, { w: [2, 1] }]) {
    const damaged = Buffer.concat([Buffer.from(JSON.stringify({ ...header, ...bad })), rest]);
    t.throws(() => decodeBatch(damaged), { instanceOf: MessageDecodeError }, JSON.stringify(bad));
  }
});

test('a v3 tick with bad values is undecodable alone, kept as a v1-shaped array', (t) => {
  const ticks = [trade(1), trade(2), trade(3), trade(4), trade(5, { id: undefined })];
  const data = encodeBatch(relayBatch(ticks)).data;
  const newline = data.indexOf(0x0a);
  const header = headerOf(data);
  const columns = Buffer.from(data.subarray(newline + 1));
  columns.writeDoubleLE(T0 + 0.5, 8 * (2 * 5 + 1)); // tick 1: ts not an integer
  const damaged = Buffer.concat([
    Buffer.from(
      JSON.stringify({
        ...header,
        i: ['1001', '1002', 7, '1004', null],
        d: 'sbbxs',
        h: [null, null, null, null, null],
      }),
    ),
    Buffer.from([0x0a]),
    columns,
  ]);
  const { batch, undecodable } = decodeBatch(damaged);
  t.deepEqual(batch.rowIds, ['binance:btcusdt:t:1001']);
  t.deepEqual(
    undecodable.map((u) => [u.index, u.reason]),
    [
      [1, 'timestamp is not an integer'],
      [2, 'trade id is not a string'],
      [3, 'side is not b, s or u'],
      [4, 'row id missing'],
    ],
  );
  t.deepEqual(undecodable[1]!.raw, [
    null,
    7,
    trade(3).price,
    trade(3).amount,
    'buy',
    trade(3).ts,
    trade(3).localTs,
  ]);
});

test('non-finite numbers travel in v3 and are refused by validation, not turned into nulls', (t) => {
  const ticks = [trade(1, { price: Number.NaN }), trade(2, { amount: Number.POSITIVE_INFINITY })];
  const { batch } = decodeBatch(encodeBatch(relayBatch(ticks)).data);
  t.deepEqual(
    batch.ticks.map((tick) => invalidTickValues(tick, Date.UTC(2026, 0, 2))),
    ['price is not a positive finite number', 'amount is not a positive finite number'],
  );
});

test('the relay column store encodes any prefix and keeps the rest, for every type', (t) => {
  // Unkeyed ticks among keyed ones, so carried ids travel; book changes with differing level counts.
  const streams: Tick[][] = [
    Array.from({ length: 23 }, (_, n) => (n % 5 === 3 ? trade(n, { id: undefined }) : trade(n))),
    Array.from({ length: 23 }, (_, n) =>
      n % 4 === 1 ? unkeyedQuote(n) : quote(n, { bidPrice: n % 6 ? 1 : undefined }),
    ),
    Array.from({ length: 23 }, (_, n) => (n % 4 === 1 ? unkeyedQuote(n) : numberedQuote(n))),
    Array.from({ length: 23 }, (_, n) => book(n)),
  ];
  for (const ticks of streams) {
    const type = ticks[0]!.type;
    // A small first capacity, so the columns grow while holding ticks.
    const columns = new TickColumns(type, 2);
    const decoded: Tick[] = [];
    const ids: string[] = [];
    let next = 0;
    let seq = 0;
    // Add a few, cut a prefix, repeat: each cut leaves some ticks behind for the next one.
    for (const [add, cut] of [
      [5, 3],
      [9, 4],
      [9, 10],
      [0, 6],
    ] as const) {
      for (const tick of ticks.slice(next, next + add)) columns.push(tick, carriedRowId(tick));
      next += add;
      const head = {
        stream: relayBatch(ticks).stream,
        relayId: 'relay-1',
        seq: seq++,
        window: { from: 1, to: 2 },
      };
      const { batch } = decodeBatch(columns.encode(head, cut));
      columns.drop(cut);
      decoded.push(...batch.ticks);
      ids.push(...batch.rowIds);
    }
    t.is(columns.length, 0, `${type}: everything was cut`);
    t.deepEqual(decoded, ticks, `${type}: every tick once, in order, value for value`);
    t.deepEqual(ids, ticks.map(rowId), `${type}: every row id as the writer derives it`);
  }
});

test('validation takes an update id as a non-negative integer, or as text of at most 64 characters', (t) => {
  const now = Date.UTC(2026, 0, 2);
  const problems = [400900217, 0, 1.5, -1, 2 ** 53, '400900217', '9'.repeat(65)].map((updateId) =>
    invalidTickValues(quote(1, { updateId }), now),
  );
  t.deepEqual(problems, [
    undefined,
    undefined,
    'update id is not a non-negative integer',
    'update id is not a non-negative integer',
    'update id is not a non-negative integer',
    undefined,
    'update id is too long',
  ]);
});
