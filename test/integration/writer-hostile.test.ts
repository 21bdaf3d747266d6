import test from 'ava';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { pushAll, type PushCase } from '../support/push-cases.ts';
import { startWriterHarness, tradeBatch } from '../support/writer-harness.ts';

// Envelopes built to hurt the writer (issue 21 point 6); results are in docs/RELIABILITY.md.
const PER_KIND = 150;
const CONCURRENCY = 16;
const DEPTH = 10_000;
const SUB = 'projects/tickstream-test/subscriptions/hostile';
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

interface Case extends PushCase {
  /** The raw request body (text, so `__proto__` stays an own key and deep nesting is never stringified). */
  readonly body: string;
  readonly status: 200 | 400;
}

interface Tools {
  readonly id: string;
  readonly n: number;
  readonly random: () => number;
  pick<T>(items: readonly T[]): T;
  /** A valid v3 message of `n` trades: header object, float64 columns, the relay's attributes. */
  readonly header: Record<string, unknown>;
  readonly columns: Buffer;
  readonly attributes: Record<string, string>;
}

const b64 = (data: string | Buffer) => Buffer.from(data).toString('base64');
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const message = (headerText: string, columns: Buffer) =>
  Buffer.concat([Buffer.from(headerText), Buffer.from('\n'), columns]);
/** A push body as text; `messageFields` is spliced in verbatim after the data and id. */
const pushText = (id: string, data: Buffer | string, messageFields = '', outer = '') =>
  `{${outer}"message":{"data":${JSON.stringify(typeof data === 'string' ? data : b64(data))},` +
  `"messageId":${JSON.stringify(id)}${messageFields}},"subscription":${JSON.stringify(SUB)}}`;
/** The header's JSON text with `field` replaced by raw JSON text. */
const withField = (header: Record<string, unknown>, field: string, rawValue: string) => {
  const rest = JSON.stringify({ ...header, [field]: '__RAW__' });
  return rest.replace('"__RAW__"', rawValue);
};
const stored = (kind: string, body: string, rows: number): Case => ({
  kind,
  body,
  status: 200,
  rows,
  quarantined: 0,
});
const poison = (kind: string, body: string): Case => ({ kind, body, status: 200, rows: 0, quarantined: 1 });

/** Each kind builds one hostile envelope from a fresh valid batch. */
const KINDS: Record<string, (x: Tools) => Case> = {
  huge_count: (x) => {
    const n = x.pick([1e9, -1, -1e9, 1.5, x.n + 0.5, 2 ** 53 + 2, 1e308]);
    return poison('huge_count', pushText(x.id, message(withField(x.header, 'n', String(n)), x.columns)));
  },
  non_finite_column: (x) => {
    // Columns: price, amount, exchange_ts_us, local_ts_us, each n long; a bad value refuses its tick only.
    const columns = Buffer.from(x.columns);
    const bad = new Set<number>();
    for (let tick = 0; tick < x.n; tick++) {
      if (x.random() < 0.5) continue;
      bad.add(tick);
      const column = Math.floor(x.random() * 4);
      columns.writeDoubleLE(x.pick([Number.NaN, Infinity, -Infinity]), (column * x.n + tick) * 8);
    }
    const body = pushText(x.id, message(JSON.stringify(x.header), columns));
    return { kind: 'non_finite_column', body, status: 200, rows: x.n - bad.size, quarantined: bad.size };
  },
  deep_json_header: (x) => {
    const field = x.pick(['v', 'e', 's', 'k', 'r', 'q', 'w', 'n', 'i', 'd']);
    const deep = x.random() < 0.5 ? deepArray(DEPTH) : '{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH);
    return poison('deep_json_header', pushText(x.id, message(withField(x.header, field, deep), x.columns)));
  },
  deep_json_envelope: (x) => {
    const data = message(JSON.stringify(x.header), x.columns);
    const where = Math.floor(x.random() * 4);
    if (where === 0)
      return poison('deep_json_envelope', pushText(x.id, data, `,"attributes":${deepArray(DEPTH)}`));
    if (where === 1) {
      const attributes = `,"attributes":{"batch":${deepArray(DEPTH)}}`;
      return poison('deep_json_envelope', pushText(x.id, data, attributes));
    }
    if (where === 2) {
      const text = `{"message":{"data":${deepArray(DEPTH)},"messageId":"${x.id}"},"subscription":"${SUB}"}`;
      return poison('deep_json_envelope', text);
    }
    const text = `{"message":${deepArray(DEPTH)},"subscription":"${SUB}","id":"${x.id}"}`;
    return { kind: 'deep_json_envelope', body: text, status: 400, rows: 0, quarantined: 0 };
  },
  prototype_keys: (x) => {
    const key = x.pick(PROTO_KEYS);
    const valid = message(JSON.stringify(x.header), x.columns);
    const where = Math.floor(x.random() * 5);
    if (where === 0) {
      // A required field supplied only through a prototype key is missing.
      const { e: _e, ...rest } = x.header;
      const text = JSON.stringify(rest).replace(/^\{/, `{"${key}":{"e":"binance"},`);
      return poison('prototype_keys', pushText(x.id, message(text, x.columns)));
    }
    if (where === 1) {
      const text = withField(x.header, 'e', JSON.stringify(x.pick([...PROTO_KEYS, 'toString'])));
      return poison('prototype_keys', pushText(x.id, message(text, x.columns)));
    }
    if (where === 2) {
      // Extra prototype keys in a valid header and in the attributes change nothing.
      const text = JSON.stringify(x.header).replace(/^\{/, `{"${key}":{"e":"nowhere","polluted":1},`);
      const attributes = `,"attributes":{"${key}":"x","constructor":"y","prototype":"z"}`;
      return stored('prototype_keys', pushText(x.id, message(text, x.columns), attributes), x.n);
    }
    if (where === 3) {
      const text = `{"${key}":{"message":{"data":"${b64(valid)}","messageId":"${x.id}"}},"subscription":"${SUB}"}`;
      return { kind: 'prototype_keys', body: text, status: 400, rows: 0, quarantined: 0 };
    }
    // The data only behind a prototype key: the message has none, so the empty message is poison.
    const text = `{"message":{"${key}":{"data":"${b64(valid)}"},"messageId":"${x.id}"},"subscription":"${SUB}"}`;
    return poison('prototype_keys', text);
  },
  attribute_disagreement: (x) => {
    // The header is the message's truth; attributes only route. The rows land under the header's stream.
    const field = x.pick(['exchange', 'symbol', 'batch', 'count', 'type', 'seq']);
    const lie: Record<string, string> = {
      exchange: 'coinbase',
      symbol: 'ethusdt',
      batch: `other/binance:ethusdt:trade/${x.id}`,
      count: String(x.n * 1000),
      type: 'book_change',
      seq: '-1',
    };
    const attributes = `,"attributes":${JSON.stringify({ ...x.attributes, [field]: lie[field] })}`;
    const data = message(JSON.stringify(x.header), x.columns);
    return stored('attribute_disagreement', pushText(x.id, data, attributes), x.n);
  },
  window_1970: (x) => {
    const from = x.pick([0, 1, 86_400_000]);
    const text = withField(x.header, 'w', JSON.stringify([from, from + 100]));
    return poison('window_1970', pushText(x.id, message(text, x.columns)));
  },
  window_2100: (x) => {
    const from = Date.UTC(2100, 0, 1) + Math.floor(x.random() * 1000);
    const text = withField(x.header, 'w', JSON.stringify([from, from + 100]));
    return poison('window_2100', pushText(x.id, message(text, x.columns)));
  },
  unconfigured_stream: (x) => {
    // A well-formed stream no relay is configured for: the writer keeps no stream list (a relay with a newer
    // configuration may record a stream first during a rolling change), so its rows are stored, not refused.
    const symbol = `${x.pick(['xrp', 'doge', 'sol', 'ada'])}${x.id.replace('hx-', 'n')}usdt`;
    const text = withField(x.header, 's', JSON.stringify(symbol));
    return stored('unconfigured_stream', pushText(x.id, message(text, x.columns)), x.n);
  },
  unsupported_exchange: (x) => {
    const exchange = x.pick([
      'kraken',
      'BINANCE',
      'binance-options',
      ' binance',
      'coinbase2',
      'x'.repeat(200),
    ]);
    const text = withField(x.header, 'e', JSON.stringify(exchange));
    return poison('unsupported_exchange', pushText(x.id, message(text, x.columns)));
  },
  bundle_frame: (x) => {
    // A v4 frame that does not add up: no section boundary can be trusted, so the whole message is poison.
    const section = message(JSON.stringify(x.header), x.columns);
    const frame = x.pick([
      `{"v":4,"l":[${section.length + 1}]}`,
      `{"v":4,"l":[${section.length - 1}]}`,
      `{"v":4,"l":[${section.length}, 1e308]}`,
      `{"v":4,"l":[-${section.length}]}`,
      `{"v":4,"l":[${section.length / 2}]}`,
      `{"v":4,"l":[]}`,
      `{"v":4,"l":${deepArray(DEPTH)}}`,
      `{"__proto__":{"l":[${section.length}]},"v":4}`,
    ]);
    return poison('bundle_frame', pushText(x.id, message(frame, section)));
  },
  bundle_bad_section: (x) => {
    // One hostile section between two good ones: it alone is quarantined, its neighbours are stored.
    const good = message(JSON.stringify(x.header), x.columns);
    const other = message(
      withField(x.header, 's', JSON.stringify(`hxb${x.id.replace('hx-', '')}usdt`)),
      x.columns,
    );
    const bad = x.pick([
      Buffer.from('not json\n'),
      message(withField(x.header, 'n', String(x.pick([1e9, -1, 1.5]))), x.columns),
      message(withField(x.header, 'w', '[0,100]'), x.columns),
      message(withField(x.header, 'e', '"kraken"'), x.columns),
      message(withField(x.header, 'v', x.pick(['1', '2', '4', deepArray(DEPTH)])), x.columns),
      message(withField(x.header, 'k', '"option_chain"'), x.columns),
      bundle([good]),
    ]);
    const body = pushText(x.id, bundle([good, bad, other]));
    return { kind: 'bundle_bad_section', body, status: 200, rows: 2 * x.n, quarantined: 1 };
  },
};

/** A v4 message: a frame line, then the sections. */
function bundle(sections: readonly Buffer[]): Buffer {
  return message(JSON.stringify({ v: 4, l: sections.map((s) => s.length) }), Buffer.concat(sections));
}

function generate(seed: number, now: number): Case[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const cases: Case[] = [];
  let i = 0;
  for (const build of Object.values(KINDS)) {
    for (let k = 0; k < PER_KIND; k++, i++) {
      const n = 1 + Math.floor(random() * 8);
      const encoded = encodeBatch(
        tradeBatch(`hx${i % 5}usdt`, 0, i * 100 + 1, n, { now, relayId: `hx-${i}` }),
      );
      const newline = encoded.data.indexOf(0x0a);
      const header = JSON.parse(encoded.data.subarray(0, newline).toString()) as Record<string, unknown>;
      const columns = encoded.data.subarray(newline + 1);
      cases.push(build({ id: `hx-${i}`, n, random, pick, header, columns, attributes: encoded.attributes }));
    }
  }
  return cases;
}

test('hostile envelopes (huge counts, non-finite columns, deep JSON, prototype keys, lying attributes, 1970 and 2100 windows, unconfigured streams, unknown exchanges, v4 frames that lie, v4 bundles with one hostile section) are stored or quarantined and never crash the writer', async (t) => {
  t.timeout(180_000);
  const h = await startWriterHarness({ name: 'hostile' });
  t.teardown(() => h.stop());
  const now = Date.now();
  const cases = generate(20261207, now);
  // A 5xx is allowed only when the redelivery (Pub/Sub's retry) then succeeds: the final answer is compared.
  const { statuses, kinds, mismatches, seconds } = await pushAll(h, cases, CONCURRENCY, 3);
  const retried5xx = [...statuses].reduce((n, [status, count]) => n + (status >= 500 ? count : 0), 0);
  t.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} mismatches`);
  t.true(h.writer.running, 'the writer process is alive');
  const after = encodeBatch(tradeBatch('hxafterusdt', 0, 1, 3, { now, relayId: 'hx-after' }));
  const reply = await h.post(pushText('hx-after', after.data));
  t.is(reply.status, 200, 'the writer answers the next valid push');

  const expectedRows = cases.reduce((n, c) => n + c.rows, 0) + 3;
  const expectedQuarantine = cases.reduce((n, c) => n + c.quarantined, 0);
  t.is(
    await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')}`),
    expectedRows,
    'every valid row stored',
  );
  t.is(
    await h.scalar(`SELECT COUNT(*) FROM ${h.table('quarantine_dedup')}`),
    expectedQuarantine,
    'every hostile message or tick in quarantine',
  );
  const lost = `SELECT COUNT(*) FROM ${h.table('quarantine')} WHERE payload = '[object Object]'`;
  t.is(await h.scalar(lost), 0, 'every quarantined payload is evidence, not a placeholder');
  t.log(
    `${cases.length} hostile envelopes in ${seconds.toFixed(1)} s (${retried5xx} 5xx retried): ` +
      `${expectedRows} rows stored, ${expectedQuarantine} quarantine entries, ` +
      `${cases.filter((c) => c.status === 400).length} non-pushes refused; per kind ${JSON.stringify(Object.fromEntries(kinds))}`,
  );
});
