import test from 'ava';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { encodeBatchV1 } from '../../functions/core/contract/message-v1.ts';
import { parsePushEnvelope } from '../../functions/core/contract/push-envelope.ts';
import { DEFAULT_VALIDATION } from '../../functions/core/model/validate.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { planDelivery } from '../../functions/core/writer/plan.ts';
import { quarantineRows } from '../../functions/core/writer/quarantine.ts';
import { expectedTickQuarantineId } from '../support/quarantine-ids.ts';
import { trade } from '../support/ticks.ts';

const NOW = Date.UTC(2026, 0, 2);
const stream = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' } as const;

function pushOf(ticks = [trade(1), trade(3), trade(2)], rowIds = ticks.map(rowId), encode = encodeBatch) {
  const message = encode({
    stream,
    relayId: 'r1',
    seq: 7,
    window: { from: NOW - 1000, to: NOW - 900 },
    ticks,
    rowIds,
  });
  const data = message.data.toString('base64');
  return parsePushEnvelope({
    message: { data, attributes: message.attributes, messageId: 'm1' },
    subscription: 's',
  });
}

test('the plan of a valid batch is one row per tick and the furthest tick as checkpoint position', (t) => {
  const plan = planDelivery(pushOf(), NOW, DEFAULT_VALIDATION);
  if (plan.kind !== 'batch') return t.fail(plan.kind);
  t.is(plan.table, 'trades');
  t.deepEqual(
    plan.rows.map((r) => r.insertId),
    [trade(1), trade(3), trade(2)].map(rowId),
  );
  t.deepEqual(plan.last, { ts: trade(3).ts, tradeId: '1003' });
  t.deepEqual(plan.bad, []);
});

test('planning is pure: the same envelope and time give the same plan', (t) => {
  const envelope = pushOf();
  t.deepEqual(
    planDelivery(envelope, NOW, DEFAULT_VALIDATION),
    planDelivery(envelope, NOW, DEFAULT_VALIDATION),
  );
});

test('a tick whose row id does not match is planned for quarantine under its index in the message', (t) => {
  const ticks = [trade(1), trade(2)];
  const envelope = pushOf(ticks, [rowId(ticks[0]!), 'forged'], encodeBatchV1); // v1: every id travels
  const plan = planDelivery(envelope, NOW, DEFAULT_VALIDATION);
  if (plan.kind !== 'batch') return t.fail(plan.kind);
  t.is(plan.rows.length, 1);
  t.deepEqual(
    plan.bad.map(({ id, reason, detail }) => ({ id, reason, detail })),
    [
      {
        id: expectedTickQuarantineId(plan.id, envelope.message.data, 1),
        reason: 'invalid_tick',
        detail: 'row id does not match the tick',
      },
    ],
  );
});

test('data that is not base64 is planned as poison, the message kept whole', (t) => {
  const envelope = parsePushEnvelope({ message: { data: '%%%', messageId: 'm2' }, subscription: 's' });
  t.deepEqual(planDelivery(envelope, NOW, DEFAULT_VALIDATION), {
    kind: 'poison',
    entry: { id: 'msg:m2', reason: 'bad_base64', detail: 'message data is not base64', payload: '%%%' },
  });
});

test('a quarantine row carries every column, in order, and a long payload goes in numbered parts', (t) => {
  const envelope = pushOf();
  const entry = { id: 'b#1', reason: 'invalid_tick', detail: 'bad price', payload: 'abcdef' };
  const { rows, sizes } = quarantineRows(envelope, undefined, [entry], NOW, 4);
  t.deepEqual(
    rows.map((r) => JSON.stringify(r)),
    [
      ['b#1/part-1-of-2', 'abcd', 'bad price (payload part 1 of 2)'],
      ['b#1/part-2-of-2', 'ef', 'bad price (payload part 2 of 2)'],
    ].map(([id, payload, detail]) =>
      JSON.stringify({
        insertId: id,
        json: {
          quarantine_id: id,
          reason: 'invalid_tick',
          detail,
          message_id: 'm1',
          batch_id: envelope.message.attributes.batch ?? null,
          exchange: 'binance',
          symbol: 'btcusdt',
          data_type: 'trade',
          payload,
          received_at: new Date(NOW).toISOString(),
        },
      }),
    ),
  );
  t.deepEqual(sizes, [4 + 9 + 512, 2 + 9 + 512]);
});
