import test from 'ava';
import { CheckpointCoalescer } from '../../functions/core/checkpoint-coalescer.ts';
import { silentLogger } from '../../functions/core/logger.ts';
import { encodeBatch, type Batch } from '../../functions/core/message.ts';
import { rowId } from '../../functions/core/row-id.ts';
import type { TradeTick } from '../../functions/core/tick.ts';
import { createWriter } from '../../functions/core/writer-service.ts';
import { ManualClock, MemoryCheckpointStore, MemoryWarehouse } from '../support/fakes.ts';
import { trade } from '../support/ticks.ts';

const stream = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;

function setup() {
  const clock = new ManualClock(Date.UTC(2026, 0, 2));
  const warehouse = new MemoryWarehouse();
  const store = new MemoryCheckpointStore(clock);
  const checkpoints = new CheckpointCoalescer(store, clock, silentLogger, 0);
  const writer = createWriter({
    warehouse,
    checkpoints,
    clock,
    logger: silentLogger,
    options: { retryBaseMs: 1 },
  });
  return { clock, warehouse, store, checkpoints, writer };
}

function push(ticks: TradeTick[], seq = 0, id = 'm1') {
  const batch: Batch = {
    stream,
    relayId: 'r1',
    seq,
    window: { from: 0, to: 10 },
    ticks,
    rowIds: ticks.map(rowId),
  };
  const message = encodeBatch(batch);
  return {
    message: { data: message.data.toString('base64'), attributes: message.attributes, messageId: id },
    subscription: 'projects/p/subscriptions/s',
  };
}

test('a valid batch is stored, its coverage committed and the checkpoint advanced', async (t) => {
  const { writer, warehouse, store, checkpoints } = setup();
  const result = await writer.handle(push([trade(1), trade(2), trade(3)]));
  t.is(result.status, 204);
  t.is(warehouse.rows('trades').length, 3);
  t.is(warehouse.rows('coverage').length, 1);
  await checkpoints.flush();
  t.is((await store.get(stream))?.lastTradeId, '1003');
});

test('a body that is not a Pub/Sub push is answered 400 and stores nothing', async (t) => {
  const { writer, warehouse } = setup();
  for (const body of [null, 'x', {}, { message: {} }, { message: { messageId: '1' } }]) {
    t.is((await writer.handle(body)).status, 400);
  }
  t.is(warehouse.calls.length, 0);
});

test('undecodable data is quarantined verbatim and acknowledged', async (t) => {
  const { writer, warehouse } = setup();
  const body = {
    message: { data: Buffer.from('{"v":2}').toString('base64'), messageId: 'm9' },
    subscription: 's',
  };
  const result = await writer.handle(body);
  t.is(result.status, 204);
  t.is(result.outcome, 'quarantined');
  const [row] = warehouse.rows('quarantine');
  t.is(row?.json.reason, 'unknown_schema_version');
  t.is(row?.json.payload, '{"v":2}');
});

test('bad base64 is quarantined, not looped', async (t) => {
  const { writer, warehouse } = setup();
  const result = await writer.handle({
    message: { data: '%%%not base64', messageId: 'm2' },
    subscription: 's',
  });
  t.is(result.status, 204);
  t.is(warehouse.rows('quarantine')[0]?.json.reason, 'bad_base64');
});

test('invalid ticks go to quarantine while the valid rows of the batch are stored', async (t) => {
  const { writer, warehouse } = setup();
  const result = await writer.handle(
    push([trade(1), trade(2, { price: -5 }), trade(3, { amount: 0 }), trade(4, { ts: 4e15 })]),
  );
  t.is(result.status, 204);
  t.deepEqual([...warehouse.uniqueIds('trades')], ['binance:btcusdt:t:1001']);
  t.is(warehouse.rows('quarantine').length, 3);
});

test('a whole-request failure is retried in process, and 503 is answered when it persists', async (t) => {
  const { writer, warehouse } = setup();
  warehouse.script.push({ kind: 'throw', error: new Error('503') });
  t.is((await writer.handle(push([trade(1)]))).status, 204);
  for (let i = 0; i < 4; i++) warehouse.script.push({ kind: 'throw', error: new Error('503') });
  const result = await writer.handle(push([trade(2)], 1));
  t.is(result.status, 503);
  t.is(warehouse.rows('coverage').length, 1, 'no coverage for the failed batch');
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
  t.is(result.status, 204);
  t.deepEqual(warehouse.calls.slice(0, 2), [
    { table: 'trades', rows: 3 },
    { table: 'trades', rows: 1 },
  ]);
  t.is(warehouse.rows('trades').length, 2);
  t.is(warehouse.rows('quarantine')[0]?.json.reason, 'rejected_by_warehouse');
});

test('the same batch delivered twice uses the same insert ids', async (t) => {
  const { writer, warehouse } = setup();
  await writer.handle(push([trade(1), trade(2)], 0, 'a'));
  await writer.handle(push([trade(1), trade(2)], 0, 'b'));
  t.is(warehouse.rows('trades').length, 4);
  t.is(warehouse.uniqueIds('trades').size, 2);
  t.is(warehouse.uniqueIds('coverage').size, 1);
});

test('a batch from an unknown exchange is quarantined row by row', async (t) => {
  const { writer, warehouse } = setup();
  const ticks = [trade(1, { exchange: 'nowhere' })];
  const batch: Batch = {
    stream: { ...stream, exchange: 'nowhere' },
    relayId: 'r1',
    seq: 0,
    window: { from: 0, to: 10 },
    ticks,
    rowIds: ticks.map(rowId),
  };
  const data = encodeBatch(batch).data.toString('base64');
  const result = await writer.handle({ message: { data, messageId: 'x' }, subscription: 's' });
  t.is(result.status, 204);
  t.is(warehouse.rows('trades').length, 0);
  t.regex(String(warehouse.rows('quarantine')[0]?.json.detail), /unknown exchange/);
});

test('a row id that does not match its tick is quarantined', async (t) => {
  const { writer, warehouse } = setup();
  const ticks = [trade(1)];
  const batch: Batch = {
    stream,
    relayId: 'r1',
    seq: 0,
    window: { from: 0, to: 10 },
    ticks,
    rowIds: ['forged'],
  };
  const data = encodeBatch(batch).data.toString('base64');
  await writer.handle({ message: { data, messageId: 'x' }, subscription: 's' });
  t.is(warehouse.rows('trades').length, 0);
  t.is(warehouse.rows('quarantine')[0]?.json.detail, 'row id does not match the tick');
});
