import test from 'ava';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { encodeBatchV1 } from '../../functions/core/contract/message-v1.ts';
import type { RowFailure, WarehouseRow } from '../../functions/core/ports.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { TableName } from '../../functions/core/contract/schema.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { WarehouseRequestError } from '../../functions/core/shared/warehouse-error.ts';
import type { WriterOptions } from '../../functions/core/writer/options.ts';
import { splitPayload } from '../../functions/core/writer/quarantine.ts';
import { createWriter } from '../../functions/core/writer/writer.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryWarehouse } from '../support/doubles/warehouse.ts';
import { expectedTickQuarantineId } from '../support/quarantine-ids.ts';
import { trade } from '../support/ticks.ts';

const stream = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;
const NOW = Date.UTC(2026, 0, 2);
const WINDOW = { from: NOW - 1000, to: NOW - 900 };

function setup(options: Partial<WriterOptions> = {}, warehouse = new MemoryWarehouse()) {
  const clock = new ManualClock(NOW);
  const store = new MemoryCheckpointStore(clock);
  const checkpoints = new CheckpointCoalescer(store, clock, silentLogger, 0);
  const writer = createWriter({
    warehouse,
    checkpoints,
    clock,
    logger: silentLogger,
    options: { retryBaseMs: 1, ...options },
  });
  return { clock, warehouse, store, checkpoints, writer };
}

function batchOf(ticks: TradeTick[], seq = 0, overrides: Partial<Batch> = {}): Batch {
  return { stream, relayId: 'r1', seq, window: WINDOW, ticks, rowIds: ticks.map(rowId), ...overrides };
}

function envelope(data: Buffer | string, id = 'm1', attributes: Record<string, string> = {}) {
  return {
    message: { data: Buffer.isBuffer(data) ? data.toString('base64') : data, attributes, messageId: id },
    subscription: 'projects/p/subscriptions/s',
  };
}

function push(ticks: TradeTick[], seq = 0, id = 'm1') {
  const message = encodeBatch(batchOf(ticks, seq));
  return envelope(message.data, id, message.attributes);
}

/** A v1 message body with its tick arrays replaced (to carry what an encoder would never write). */
function withRawTicks(ticks: unknown[]): Buffer {
  const body = JSON.parse(encodeBatchV1(batchOf([])).data.toString()) as Record<string, unknown>;
  body.t = ticks;
  return Buffer.from(JSON.stringify(body));
}

test('a valid batch is stored, its coverage committed and the checkpoint advanced', async (t) => {
  const { writer, warehouse, store, checkpoints } = setup();
  const result = await writer.handle(push([trade(1), trade(2), trade(3)]));
  t.is(result.status, 200);
  t.is(warehouse.rows('trades').length, 3);
  t.is(warehouse.rows('coverage').length, 1);
  await checkpoints.flush();
  t.is((await store.get(stream))?.lastTradeId, '1003');
});

test('a body that is not a Pub/Sub push is answered 400 and stores nothing', async (t) => {
  const { writer, warehouse } = setup();
  for (const body of [
    null,
    'x',
    [],
    {},
    { message: {} },
    { message: 'x', subscription: 's' },
    { subscription: 's' },
  ]) {
    t.is((await writer.handle(body)).status, 400, JSON.stringify(body));
  }
  t.is(warehouse.calls.length, 0);
  t.is(writer.counters.rejected, 7);
});

test('a push with a malformed field is quarantined verbatim and acknowledged, never answered 4xx', async (t) => {
  const { writer, warehouse } = setup();
  const pushes = [
    { message: { data: 'e30=' }, subscription: 's' }, // no messageId
    { message: { data: 42, messageId: 'a' }, subscription: 's' },
    { message: { data: 'e30=', messageId: 'b', attributes: ['x'] }, subscription: 's' },
    { message: { data: 'e30=', messageId: 'c', attributes: { n: 1 } }, subscription: 's' },
  ];
  for (const body of pushes) {
    const result = await writer.handle(body);
    t.is(result.status, 200);
    t.is(result.outcome, 'quarantined');
  }
  const rows = warehouse.rows('quarantine');
  t.is(rows.length, 4);
  t.true(rows.every((r) => r.json.reason === 'bad_envelope_field'));
  t.deepEqual(JSON.parse(String(rows[1]?.json.payload)), pushes[1]!.message);
  t.regex(String(rows[0]?.json.quarantine_id), /^msg:env:/, 'a message without id gets a content id');
  // The same malformed push redelivered gets the same quarantine id (dedup view keeps one).
  await writer.handle(pushes[0]);
  t.is(warehouse.uniqueIds('quarantine').size, 4);
});

test('undecodable data is quarantined verbatim and acknowledged', async (t) => {
  const { writer, warehouse } = setup();
  const result = await writer.handle(envelope(Buffer.from('{"v":4}'), 'm9'));
  t.is(result.status, 200);
  t.is(result.outcome, 'quarantined');
  const [row] = warehouse.rows('quarantine');
  t.is(row?.json.reason, 'unknown_schema_version');
  t.is(row?.json.payload, '{"v":4}');
  t.is(row?.json.quarantine_id, 'msg:m9');
});

test('data that is not UTF-8 is kept as base64 in quarantine', async (t) => {
  const { writer, warehouse } = setup();
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
  await writer.handle(envelope(bytes));
  t.is(warehouse.rows('quarantine')[0]?.json.payload, `base64:${bytes.toString('base64')}`);
});

test('bad base64 is quarantined, not looped', async (t) => {
  const { writer, warehouse } = setup();
  const result = await writer.handle({
    message: { data: '%%%not base64', messageId: 'm2' },
    subscription: 's',
  });
  t.is(result.status, 200);
  t.is(warehouse.rows('quarantine')[0]?.json.reason, 'bad_base64');
  t.is(warehouse.rows('quarantine')[0]?.json.payload, '%%%not base64');
});

test('invalid ticks go to quarantine while the valid rows of the batch are stored', async (t) => {
  const { writer, warehouse } = setup();
  const ticks = [
    trade(1),
    trade(2, { price: -5 }),
    trade(3, { amount: 0 }),
    trade(4, { ts: 4e15 }),
    trade(5, { localTs: (NOW + 3_600_000) * 1000 }),
    trade(6, { id: 'x'.repeat(200) }),
  ];
  const result = await writer.handle(push(ticks));
  t.is(result.status, 200);
  t.is(result.rows, 1);
  t.is(result.quarantined, 5);
  t.deepEqual([...warehouse.uniqueIds('trades')], ['binance:btcusdt:t:1001']);
  const quarantined = warehouse.rows('quarantine');
  t.deepEqual(
    quarantined.map((r) => r.json.detail),
    [
      'price is not a positive finite number',
      'amount is not a positive finite number',
      'exchange timestamp too far in the future',
      'receive timestamp too far in the future',
      'trade id is too long',
    ],
  );
  // Kept as the message carried it: the positional tick array.
  t.deepEqual(JSON.parse(String(quarantined[0]?.json.payload)), [
    'binance:btcusdt:t:1002',
    '1002',
    -5,
    trade(2).amount,
    'buy',
    trade(2).ts,
    trade(2).localTs,
  ]);
  const data = encodeBatch(batchOf(ticks)).data;
  t.is(quarantined[0]?.json.quarantine_id, expectedTickQuarantineId('r1/binance:btcusdt:trade/0', data, 1));
});

test('two different messages claiming one batch id both keep their quarantined ticks', async (t) => {
  const { writer, warehouse } = setup();
  await writer.handle(push([trade(1, { price: -5 })], 0, 'a'));
  await writer.handle(push([trade(2, { price: -6 })], 0, 'b'));
  const rows = warehouse.rows('quarantine');
  t.is(new Set(rows.map((r) => r.json.batch_id)).size, 1, 'one batch id');
  t.is(warehouse.uniqueIds('quarantine').size, 2);
  t.deepEqual(
    rows.map((r) => r.json.message_id),
    ['a', 'b'],
  );
});

test('a message delivered twice, or published twice by a relay retry, keeps one quarantine row per tick', async (t) => {
  const { writer, warehouse } = setup();
  const message = encodeBatch(batchOf([trade(1, { price: -5 })]));
  for (const id of ['a', 'a', 'a-publish-retry'])
    await writer.handle(envelope(message.data, id, message.attributes));
  t.is(warehouse.rows('quarantine').length, 3);
  t.is(warehouse.uniqueIds('quarantine').size, 1);
});

test('rows the warehouse refuses are quarantined under their message key and row id', async (t) => {
  const { writer, warehouse } = setup();
  warehouse.script.push({ kind: 'fail', pick: () => ({ reason: 'invalid', retryable: false }) });
  const message = encodeBatch(batchOf([trade(1)]));
  await writer.handle(envelope(message.data, 'a', message.attributes));
  const id = expectedTickQuarantineId('r1/binance:btcusdt:trade/0', message.data, rowId(trade(1)));
  t.deepEqual([...warehouse.uniqueIds('quarantine')], [id]);
});

test('numbers JSON cannot hold are quarantined with their text, and NaN makes the message unreadable', async (t) => {
  const { writer, warehouse } = setup();
  const tick = trade(1);
  const huge = withRawTicks([
    [rowId(tick), tick.id, tick.price, tick.amount, tick.side, tick.ts, tick.localTs],
    ['binance:btcusdt:t:1002', '1002', '__HUGE__', 1, 'buy', tick.ts, tick.localTs],
    ['binance:btcusdt:t:1003', '1003', 1, 1, 'buy', 1e300, tick.localTs],
    ['binance:btcusdt:t:1004', '1004', '37000', 1, 'buy', tick.ts, tick.localTs],
    'not an array',
  ]);
  const text = huge.toString().replace('"__HUGE__"', '1e400');
  const result = await writer.handle(envelope(Buffer.from(text)));
  t.is(result.status, 200);
  t.is(result.rows, 1);
  t.is(result.quarantined, 4);
  const byId = new Map(
    warehouse.rows('quarantine').map((r) => [String(r.json.quarantine_id).split('#')[1], r.json]),
  );
  t.is(byId.get('1')?.reason, 'invalid_tick');
  t.regex(String(byId.get('1')?.payload), /"Infinity"/);
  t.is(byId.get('2')?.reason, 'undecodable_tick');
  t.is(byId.get('3')?.detail, 'price or amount is not a number');
  t.is(byId.get('4')?.detail, 'tick is not an array');

  const nan = await writer.handle(envelope(Buffer.from(text.replace('1e400', 'NaN')), 'm-nan'));
  t.is(nan.outcome, 'quarantined');
  t.is(warehouse.rows('quarantine').at(-1)?.json.reason, 'not_json');
});

test('a whole-request failure is retried in process, and 503 is answered when it persists', async (t) => {
  const { writer, warehouse } = setup({ insertAttempts: 4 });
  warehouse.script.push({ kind: 'throw', error: new Error('503') });
  t.is((await writer.handle(push([trade(1)]))).status, 200);
  for (let i = 0; i < 4; i++) warehouse.script.push({ kind: 'throw', error: new Error('503') });
  const result = await writer.handle(push([trade(2)], 1));
  t.is(result.status, 503);
  t.is(result.outcome, 'retry');
  t.is(writer.counters.retryResponses, 1);
  t.is(writer.counters.insertRetries, 1 + 3);
});

test('an insert failure on the rows leaves no coverage row for that batch', async (t) => {
  const { writer, warehouse, store, checkpoints } = setup({ insertAttempts: 2 });
  warehouse.script.push(
    { kind: 'fail', pick: () => ({ reason: 'backendError', retryable: true }) },
    { kind: 'fail', pick: () => ({ reason: 'backendError', retryable: true }) },
  );
  const result = await writer.handle(push([trade(1), trade(2)]));
  t.is(result.status, 503);
  t.is(warehouse.rows('coverage').length, 0);
  await checkpoints.flush();
  t.is(await store.get(stream), undefined, 'no checkpoint either');
  // The redelivery succeeds and only then is the coverage committed.
  t.is((await writer.handle(push([trade(1), trade(2)]))).status, 200);
  t.is(warehouse.rows('coverage').length, 1);
});

test('no insert attempt starts that could end after the delivery deadline', async (t) => {
  const clock = new ManualClock(NOW);
  const warehouse = new MemoryWarehouse();
  const checkpoints = new CheckpointCoalescer(new MemoryCheckpointStore(clock), clock, silentLogger, 0);
  const started: number[] = [];
  const slow = {
    insert: async (table: TableName, rows: readonly WarehouseRow[]): Promise<RowFailure[]> => {
      started.push(clock.now());
      clock.advance(3000); // every request hangs until the adapter's timeout
      throw new WarehouseRequestError(`timeout ${table} ${rows.length}`, 'transient', undefined);
    },
    query: warehouse.query.bind(warehouse),
  };
  const writer = createWriter({
    warehouse: slow,
    checkpoints,
    clock,
    logger: silentLogger,
    sleep: async (ms) => clock.advance(ms),
    options: { insertAttempts: 20, insertTimeoutMs: 3000, deliveryDeadlineMs: 10_000, retryBaseMs: 100 },
  });
  const result = await writer.handle(push([trade(1)]));
  t.is(result.status, 503);
  t.regex(result.detail ?? '', /deadline/);
  t.true(started.length >= 2 && started.length < 20);
  for (const at of started) t.true(at + 3000 <= NOW + 10_000, 'each attempt could finish in time');
});

test('only failed rows are retried and permanently invalid rows end in quarantine', async (t) => {
  const { writer, warehouse } = setup();
  warehouse.script.push({
    kind: 'fail',
    pick: (row) =>
      row.insertId.endsWith(':1002')
        ? { reason: 'backendError', retryable: true }
        : row.insertId.endsWith(':1003')
          ? { reason: 'invalid', retryable: false }
          : undefined,
  });
  const result = await writer.handle(push([trade(1), trade(2), trade(3)]));
  t.is(result.status, 200);
  t.deepEqual(
    warehouse.calls.filter((c) => c.table === 'trades'),
    [
      { table: 'trades', rows: 3 },
      { table: 'trades', rows: 1 },
    ],
  );
  t.is(warehouse.rows('trades').length, 2);
  const [refused] = warehouse.rows('quarantine');
  t.is(refused?.json.reason, 'rejected_by_warehouse');
  t.is(JSON.parse(String(refused?.json.payload))[0], 'binance:btcusdt:t:1003');
  t.is(writer.counters.rowsRetried, 1);
});

test('a request refused as too large is split, and a single row too large is quarantined', async (t) => {
  const warehouse = new MemoryWarehouse();
  const inner = warehouse.insert.bind(warehouse);
  const sizes: number[] = [];
  warehouse.insert = async (table, rows) => {
    if (table === 'trades') sizes.push(rows.length);
    if (table === 'trades' && rows.length > 2) throw new WarehouseRequestError('413', 'too_large', 413);
    if (table === 'trades' && rows.some((r) => r.insertId.endsWith(':1005')))
      throw new WarehouseRequestError('413', 'too_large', 413);
    return inner(table, rows);
  };
  const { writer } = setup({}, warehouse);
  const result = await writer.handle(push([trade(1), trade(2), trade(3), trade(4), trade(5)]));
  t.is(result.status, 200);
  t.is(result.rows, 4);
  t.deepEqual(sizes, [5, 3, 2, 1, 2, 1, 1]);
  t.is(warehouse.rows('quarantine')[0]?.json.reason, 'rejected_by_warehouse');
});

test('rows are sent in requests of bounded size', async (t) => {
  const { writer, warehouse } = setup({ maxRowsPerRequest: 2 });
  await writer.handle(push([trade(1), trade(2), trade(3), trade(4), trade(5)]));
  t.deepEqual(
    warehouse.calls.filter((c) => c.table === 'trades').map((c) => c.rows),
    [2, 2, 1],
  );
});

test('a payload longer than a row may hold is quarantined in parts that reassemble verbatim', async (t) => {
  const { writer, warehouse } = setup({ quarantineChunkChars: 1000 });
  const garbage = `{"v":1,"pad":"${'😀x'.repeat(1500)}"`; // not JSON: truncated
  const result = await writer.handle(envelope(Buffer.from(garbage), 'big'));
  t.is(result.status, 200);
  t.is(result.quarantined, 1);
  const parts = warehouse.rows('quarantine');
  t.true(parts.length >= 5);
  t.regex(String(parts[0]?.json.quarantine_id), /^msg:big\/part-1-of-\d+$/);
  t.is(parts.map((p) => p.json.payload).join(''), garbage);
  t.is(writer.counters.quarantinedRows, 1);
  t.deepEqual(splitPayload('ab😀', 3), ['ab', '😀']);
});

test('an impossible coverage window or relay id quarantines the whole message and commits no coverage', async (t) => {
  const { writer, warehouse } = setup();
  const cases: Partial<Batch>[] = [
    { window: { from: NOW, to: NOW + 3_600_000 } },
    { window: { from: 0, to: 10 } },
    { relayId: 'r'.repeat(500) },
  ];
  for (const [i, overrides] of cases.entries()) {
    const message = encodeBatch(batchOf([trade(i)], i, overrides));
    const result = await writer.handle(envelope(message.data, `w${i}`));
    t.is(result.outcome, 'quarantined');
  }
  t.deepEqual(
    warehouse.rows('quarantine').map((r) => r.json.detail),
    ['coverage window ends in the future', 'coverage window starts before 2010', 'invalid relay id'],
  );
  t.is(warehouse.rows('coverage').length, 0);
  t.is(warehouse.rows('trades').length, 0);
});

test('the same batch delivered twice uses the same insert ids', async (t) => {
  const { writer, warehouse } = setup();
  await writer.handle(push([trade(1), trade(2)], 0, 'a'));
  await writer.handle(push([trade(1), trade(2)], 0, 'b'));
  t.is(warehouse.rows('trades').length, 4);
  t.is(warehouse.uniqueIds('trades').size, 2);
  t.is(warehouse.uniqueIds('coverage').size, 1);
});

test('a batch from an unknown exchange is quarantined whole', async (t) => {
  const { writer, warehouse } = setup();
  const ticks = [trade(1, { exchange: 'nowhere' })];
  const data = encodeBatch(batchOf(ticks, 0, { stream: { ...stream, exchange: 'nowhere' } })).data;
  const result = await writer.handle(envelope(data, 'x'));
  t.is(result.status, 200);
  t.is(warehouse.rows('trades').length, 0);
  t.regex(String(warehouse.rows('quarantine')[0]?.json.detail), /unknown exchange/);
});

test("a batch whose symbol is not in the exchange's shape (BTCUSDT) is quarantined whole; btcusdt is stored", async (t) => {
  const { writer, warehouse } = setup();
  const upper = { ...stream, symbol: 'BTCUSDT' };
  const ticks = [trade(1, { symbol: 'BTCUSDT' })];
  const data = encodeBatch(batchOf(ticks, 0, { stream: upper, rowIds: ticks.map(rowId) })).data;
  const refused = await writer.handle(envelope(data, 'upper'));
  t.like(refused, { status: 200, outcome: 'quarantined', rows: 0 });
  t.like(warehouse.rows('quarantine')[0]?.json, { reason: 'invalid_batch', symbol: 'BTCUSDT' });
  t.regex(String(warehouse.rows('quarantine')[0]?.json.detail), /"BTCUSDT" is not a binance symbol/);
  t.is(warehouse.rows('coverage').length, 0);

  const stored = await writer.handle(push([trade(1)], 0, 'lower'));
  t.like(stored, { status: 200, outcome: 'committed', rows: 1 });
  t.deepEqual(
    warehouse.rows('trades').map((r) => r.json.symbol),
    ['btcusdt'],
  );
  t.is(warehouse.rows('coverage').length, 1);
});

test('a row id that does not match its tick is quarantined (v1, every id travels)', async (t) => {
  const { writer, warehouse } = setup();
  const data = encodeBatchV1(batchOf([trade(1)], 0, { rowIds: ['forged'] })).data;
  await writer.handle(envelope(data, 'x'));
  t.is(warehouse.rows('trades').length, 0);
  t.is(warehouse.rows('quarantine')[0]?.json.detail, 'row id does not match the tick');
});

test('a carried content-hash id that does not match its tick is quarantined (v3)', async (t) => {
  const { writer, warehouse } = setup();
  // A trade without an exchange id: its content-hash id travels in the message, and is checked.
  const ticks = [trade(1, { id: undefined }), trade(2)];
  const data = encodeBatch(batchOf(ticks, 0, { rowIds: ['binance:btcusdt:th:forged', undefined] })).data;
  await writer.handle(envelope(data, 'x'));
  t.deepEqual(
    warehouse.rows('trades').map((r) => r.json.row_id),
    ['binance:btcusdt:t:1002'],
  );
  t.is(warehouse.rows('quarantine')[0]?.json.detail, 'row id does not match the tick');
});

test('concurrent deliveries share insert requests and each sees only its own row failures', async (t) => {
  const warehouse = new MemoryWarehouse();
  const inner = warehouse.insert.bind(warehouse);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  warehouse.insert = async (table, rows) => {
    await gate;
    return inner(table, rows);
  };
  // Only the first trades request goes alone; the others queue behind it and leave together.
  const { writer } = setup({ maxInFlightPerTable: 1 }, warehouse);
  for (let i = 0; i < 30; i++) {
    warehouse.script.push({
      kind: 'fail',
      pick: (row) =>
        row.insertId === 'binance:btcusdt:t:1022' ? { reason: 'invalid', retryable: false } : undefined,
    });
  }
  const results = Promise.all(
    Array.from({ length: 5 }, (_, k) =>
      writer.handle(push([trade(10 * k + 1), trade(10 * k + 2)], k, `m${k}`)),
    ),
  );
  await new Promise((r) => setImmediate(r));
  release();
  const settled = await results;
  t.deepEqual(
    settled.map((r) => [r.status, r.rows, r.quarantined]),
    [
      [200, 2, 0],
      [200, 2, 0],
      [200, 1, 1],
      [200, 2, 0],
      [200, 2, 0],
    ],
  );
  t.deepEqual(
    warehouse.calls.filter((c) => c.table === 'trades').map((c) => c.rows),
    [2, 8],
  );
  t.is(warehouse.uniqueIds('coverage').size, 5);
  t.is(writer.counters.insertRequests < writer.counters.deliveries * 2, true);
});

test('stats count rows, quarantine, retries and report the checkpoint lag', async (t) => {
  const { writer, warehouse, clock, checkpoints } = setup();
  warehouse.script.push({ kind: 'throw', error: new Error('503') });
  await writer.handle(push([trade(1), trade(2, { price: -1 })]));
  const stats = writer.stats();
  t.like(stats, { deliveries: 1, committed: 1, rowsWritten: 1, quarantinedRows: 1, insertRetries: 1 });
  t.true(stats.insertLatency.count >= 3);
  await checkpoints.flush();
  t.is(writer.stats().checkpoints.checkpointAgeMs, 0);
  t.is(writer.stats().checkpoints.writes, 1);
  t.truthy(clock);
});
