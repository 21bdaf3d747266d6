import test from 'ava';
import { POISON_KINDS } from '../../scripts/chaos/plan.ts';
import { PoisonSource } from '../../scripts/chaos/poison.ts';

const NOW = Date.UTC(2026, 0, 2);

/** Three bursts of 25 messages, every kind in turn, all built in the same millisecond. */
function bursts(source: PoisonSource) {
  return Array.from({ length: 3 }, () =>
    Array.from({ length: 25 }, (_, i) => source.next(POISON_KINDS[i % POISON_KINDS.length]!, NOW)),
  ).flat();
}

test('the poison messages of a run are all different, across bursts and within one millisecond', (t) => {
  const messages = bursts(new PoisonSource(7, ['btcusdt', 'ethusdt', 'solusdt']));
  const distinct = new Set(
    messages.map((m) => `${m.data.toString('base64')} ${JSON.stringify(m.attributes)}`),
  );
  t.is(distinct.size, messages.length);
});

test('no two poison batches of a run claim one batch id', (t) => {
  const batches = bursts(new PoisonSource(7, ['btcusdt']))
    .filter((m) => m.attributes.poison === 'bad-ticks')
    .map((m) => JSON.parse(m.data.toString()) as { r: string; e: string; s: string; k: string; q: number });
  t.true(batches.length >= 3, 'every burst sends well-formed batches');
  t.is(new Set(batches.map((b) => `${b.r}/${b.e}:${b.s}:${b.k}/${b.q}`)).size, batches.length);
});
