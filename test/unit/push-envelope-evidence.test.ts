import test from 'ava';
import { parsePushEnvelope, stringifyLoose } from '../../functions/core/contract/push-envelope.ts';

const deep = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

test('a push whose attributes nest 10,000 levels deep is quarantined with its data and id kept verbatim', (t) => {
  const message = { data: 'eyJ2IjozfQ==', messageId: 'm-1', attributes: { batch: deep(10_000) } };
  const envelope = parsePushEnvelope({ message, subscription: 'projects/p/subscriptions/s' });
  t.is(envelope.defect?.reason, 'bad_envelope_field');
  const payload = JSON.parse(envelope.defect!.payload) as Record<string, unknown>;
  t.is(payload.data, 'eyJ2IjozfQ==');
  t.is(payload.messageId, 'm-1');
  t.regex(envelope.defect!.payload, /nested deeper than 64 levels/);
});

test('evidence keeps non-finite numbers as text and prototype keys as own keys', (t) => {
  const value = JSON.parse('{"__proto__":{"a":1},"constructor":"c"}') as Record<string, unknown>;
  t.is(
    stringifyLoose({ ...value, n: Number.NaN, i: -Infinity }),
    '{"__proto__":{"a":1},"constructor":"c","n":"NaN","i":"-Infinity"}',
  );
  t.is(stringifyLoose(deep(3)), '[[[]]]');
});
