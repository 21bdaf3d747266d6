import test from 'ava';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { encodeBatchV1 } from '../../functions/core/contract/message-v1.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { pushAll } from '../support/push-cases.ts';
import { startWriterHarness, tradeBatch } from '../support/writer-harness.ts';

const ENVELOPES = 10_000;
const CONCURRENCY = 32;

interface Case {
  readonly kind: string;
  readonly body: unknown;
  /** 200 (acknowledged) or 400 (not a push). */
  readonly status: 200 | 400;
  readonly rows: number;
  readonly quarantined: number;
}

/** A seeded mix of valid pushes, poison of every kind, and requests that are not pushes at all. */
function generate(seed: number, count: number, now: number): Case[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int = (n: number) => Math.floor(random() * n);
  const sub = 'projects/tickstream-test/subscriptions/fuzz';
  const push = (id: string, data: string, extra: Record<string, unknown> = {}) => ({
    message: { data, messageId: id, ...extra },
    subscription: sub,
  });
  const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    const id = `fz-${i}`;
    const n = 1 + int(20);
    const batch = tradeBatch(`fz${i % 7}usdt`, 0, i * 100 + 1, n, { now, relayId: `fz-${i}` });
    // Mutations work on the v1 JSON body (still read, for relays of the previous version); valid and
    // truncated cases also come as v3 (the relay's format: JSON header, newline, float64 columns).
    const v3 = encodeBatch(batch).data;
    const body = JSON.parse(encodeBatchV1(batch).data.toString()) as Record<string, unknown> & {
      t: unknown[][];
    };
    const poisonMessage = (kind: string, data: string): Case => ({
      kind,
      body: push(id, data),
      status: 200,
      rows: 0,
      quarantined: 1,
    });
    const roll = random();
    if (roll < 0.3) {
      cases.push({
        kind: 'valid',
        body: push(id, random() < 0.5 ? b64(v3) : b64(JSON.stringify(body))),
        status: 200,
        rows: n,
        quarantined: 0,
      });
    } else if (roll < 0.4) {
      // Some ticks can never be valid rows: the rest of the batch is stored.
      let bad = 0;
      for (const tick of body.t) {
        if (random() < 0.4) continue;
        bad++;
        const how = int(5);
        if (how === 0) tick[2] = -Math.abs(Number(tick[2]));
        else if (how === 1) tick[3] = 0;
        else if (how === 2)
          tick[5] = (now + 86_400_000) * 1000; // a day in the future
        else if (how === 3) tick[0] = `forged-${i}`;
        else tick[2] = '__HUGE__';
      }
      const text = JSON.stringify(body).replaceAll('"__HUGE__"', '1e400');
      cases.push({
        kind: 'invalid_ticks',
        body: push(id, b64(text)),
        status: 200,
        rows: n - bad,
        quarantined: bad,
      });
    } else if (roll < 0.48) {
      // Ticks of the wrong shape or types: undecodable, kept one by one.
      let bad = 0;
      body.t = body.t.map((tick): unknown[] => {
        if (random() < 0.5) return tick;
        bad++;
        return pick<unknown>([
          ['not', 'a', 'tick'],
          [null],
          tick.slice(0, 4),
          [tick[0], tick[1], String(tick[2]), tick[3], tick[4], tick[5], tick[6]],
          [tick[0], tick[1], tick[2], tick[3], 'sideways', tick[5], tick[6]],
          [tick[0], tick[1], tick[2], tick[3], tick[4], 1e20, tick[6]],
          [tick[0], 42, tick[2], tick[3], tick[4], tick[5], tick[6]],
        ]) as unknown[];
      });
      // Not even arrays: the decoder must cope with any JSON value in `t`.
      const extra = random() < 0.5 ? 1 : 0;
      if (extra) (body.t as unknown[]).push(pick<unknown>(['not an array', null, 7, { a: 1 }]));
      cases.push({
        kind: 'undecodable_ticks',
        body: push(id, b64(JSON.stringify(body))),
        status: 200,
        rows: n - bad,
        quarantined: bad + extra,
      });
    } else if (roll < 0.54) {
      const bytes = random() < 0.5 ? v3 : Buffer.from(JSON.stringify(body));
      cases.push(poisonMessage('truncated', b64(bytes.subarray(0, 1 + int(bytes.length - 2)))));
    } else if (roll < 0.58) {
      cases.push(poisonMessage('bad_base64', pick(['%%%', '@@', 'abc$def', 'a']) + id));
    } else if (roll < 0.62) {
      const bytes = Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)));
      bytes[0] = 0xff; // never valid UTF-8 JSON
      cases.push(poisonMessage('binary', bytes.toString('base64')));
    } else if (roll < 0.7) {
      // Values of the wrong type or shape for each field (every one is refused).
      const wrongValues: Record<string, unknown[]> = {
        e: [42, null, [], {}, true, ''],
        s: [42, null, [], '', '??'],
        k: ['x', 42, null, 'trades'],
        r: [42, null, [], '', 'r r'],
        q: ['x', -1, 1.5, 1e30, null],
        w: [42, 'x', [1], [2, 1], null, [1.5, 2]],
        t: ['x', 42, null, {}],
      };
      const field = pick(Object.keys(wrongValues));
      const mutated = { ...body, [field]: pick(wrongValues[field]!) };
      cases.push(poisonMessage('wrong_types', b64(JSON.stringify(mutated))));
    } else if (roll < 0.76) {
      const mutated: Record<string, unknown> = { ...body };
      delete mutated[pick(['v', 'e', 's', 'k', 'r', 'q', 'w', 't'])];
      cases.push(poisonMessage('missing_field', b64(JSON.stringify(mutated))));
    } else if (roll < 0.8) {
      cases.push(
        poisonMessage(
          'unknown_version',
          b64(JSON.stringify({ ...body, v: pick([0, 4, '1', '3', 1.5, null]) })),
        ),
      );
    } else if (roll < 0.84) {
      const mutated = pick([
        { ...body, e: 'nowhere' },
        { ...body, w: [now + 3_600_000, now + 3_600_100] },
        { ...body, r: 'r'.repeat(100) },
        { ...body, q: 1e30 },
        { ...body, w: [5, 1] },
      ]);
      cases.push(poisonMessage('impossible_batch', b64(JSON.stringify(mutated))));
    } else if (roll < 0.9) {
      // Pushes with a malformed envelope field: quarantined whole, never 4xx (Pub/Sub would loop).
      const data = b64(JSON.stringify(body));
      const defect = pick([
        { message: { data, attributes: { n: 1 } }, subscription: sub, salt: i },
        { message: { data: 12345 + i, messageId: id }, subscription: sub },
        { message: { data, messageId: id, attributes: [id] }, subscription: sub },
        { message: { data, messageId: id, attributes: { ok: 'x', bad: { id } } }, subscription: sub },
      ]);
      // A message without an id is identified by its content: make every one distinct.
      if (!('messageId' in defect.message)) (defect.message as Record<string, unknown>).salt = id;
      cases.push({ kind: 'envelope_defect', body: defect, status: 200, rows: 0, quarantined: 1 });
    } else {
      const notPush = pick<unknown>([
        [id],
        id,
        i,
        null,
        {},
        { message: { data: b64('{}'), messageId: id } },
        { subscription: sub },
        { message: id, subscription: sub },
        { message: [id], subscription: sub },
        { message: { messageId: id }, subscription: '' },
      ]);
      cases.push({ kind: 'not_a_push', body: notPush, status: 400, rows: 0, quarantined: 0 });
    }
  }
  return cases;
}

test('10,000 random and malformed envelopes: no crash, no 5xx, every row and poison accounted for', async (t) => {
  // About 45 s on an idle 2-core machine (bounded concurrency 32), 170 s with other runs sharing the cores;
  // the timeout catches a pathological slowdown such as a retry loop.
  t.timeout(240_000);
  const h = await startWriterHarness({ name: 'fuzz' });
  t.teardown(() => h.stop());
  const now = Date.now();
  const cases = generate(20261126, ENVELOPES, now);
  const { statuses, kinds, mismatches, seconds } = await pushAll(h, cases, CONCURRENCY);
  t.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} mismatches`);
  t.true(h.writer.running, 'the writer is alive');
  t.deepEqual(
    [...statuses.keys()].filter((s) => s >= 500),
    [],
    'no 5xx',
  );

  const expectedRows = cases.reduce((n, c) => n + c.rows, 0);
  const expectedQuarantine = cases.reduce((n, c) => n + c.quarantined, 0);
  const expected400 = cases.filter((c) => c.status === 400).length;
  t.is(statuses.get(400), expected400);
  t.is(
    await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')}`),
    expectedRows,
    'every valid tick stored',
  );
  t.is(
    await h.scalar(`SELECT COUNT(*) FROM ${h.table('quarantine_dedup')}`),
    expectedQuarantine,
    'every poison message and tick kept',
  );
  const validBatches = cases.filter(
    (c) => c.status === 200 && c.rows + c.quarantined > 0 && c.kind.endsWith('ticks'),
  );
  const committed = cases.filter((c) => c.kind === 'valid' || c.kind.endsWith('_ticks')).length;
  t.is(
    await h.scalar(`SELECT COUNT(*) FROM ${h.table('coverage_dedup')}`),
    committed,
    'coverage per committed batch',
  );
  t.true(validBatches.length > 0);
  t.log(
    `${ENVELOPES} envelopes in ${seconds.toFixed(1)} s at concurrency ${CONCURRENCY}: ` +
      `${JSON.stringify(Object.fromEntries(statuses))}; ${expectedRows} rows stored, ${expectedQuarantine} quarantine ` +
      `entries, ${expected400} non-pushes refused, ${h.standin.stats().byRoute['tabledata.insertAll']} insertAll ` +
      `requests; kinds ${JSON.stringify(Object.fromEntries(kinds))}`,
  );
});
