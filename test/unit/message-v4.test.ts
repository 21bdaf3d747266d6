import test from 'ava';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { encodeBundle } from '../../functions/core/contract/bundle.ts';
import { encodeMessage, MAX_INFLATED_BYTES } from '../../functions/core/contract/compression.ts';
import { gzipSync } from 'node:zlib';
import { decodeBatch, decodeMessage } from '../../functions/core/contract/decode.ts';
import { MessageDecodeError } from '../../functions/core/contract/decoded-batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { RelayService, type RelayOptions } from '../../functions/core/relay/relay-service.ts';
import { Bundler } from '../../functions/core/relay/bundler.ts';
import { FakeFeed } from '../support/doubles/tick-feed.ts';
import { FakePublisher } from '../support/doubles/tick-publisher.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { createWriter } from '../../functions/core/writer/writer.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryWarehouse } from '../support/doubles/warehouse.ts';
import { trade } from '../support/ticks.ts';

const NOW = Date.UTC(2026, 0, 2);
const WINDOW = { from: NOW - 1000, to: NOW - 900 };

function batchOf(symbol: string, ticks: TradeTick[], seq = 0, overrides: Partial<Batch> = {}): Batch {
  const own = ticks.map((tick) => ({ ...tick, symbol }));
  return {
    stream: { exchange: 'binance', symbol, type: 'trade' },
    relayId: 'r1',
    seq,
    window: WINDOW,
    ticks: own,
    rowIds: own.map(rowId),
    ...overrides,
  };
}

function bundleOf(sections: Buffer[]) {
  return encodeBundle(sections, { relayId: 'r1', ticks: 0 });
}

function envelope(data: Buffer, id = 'm1', attributes: Record<string, string> = {}) {
  return {
    message: { data: data.toString('base64'), attributes, messageId: id },
    subscription: 'projects/p/subscriptions/s',
  };
}

function setup() {
  const clock = new ManualClock(NOW);
  const store = new MemoryCheckpointStore(clock);
  const checkpoints = new CheckpointCoalescer(store, clock, silentLogger, 0);
  const warehouse = new MemoryWarehouse();
  const writer = createWriter({
    warehouse,
    checkpoints,
    clock,
    logger: silentLogger,
    options: { retryBaseMs: 1 },
  });
  return { warehouse, store, checkpoints, writer };
}

test('a v4 bundle carries each batch as it was, with its own window, relay, seq and fleet fields', (t) => {
  const a = batchOf('btcusdt', [trade(1), trade(2)], 7, { shard: 'binance/3', epoch: 12 });
  const b = batchOf('ethusdt', [], 8, { window: { from: NOW - 2000, to: NOW - 1000 } });
  const message = bundleOf([encodeBatch(a).data, encodeBatch(b).data]);
  t.is(message.attributes.schema, '4');
  t.is(message.attributes.batches, '2');
  const decoded = decodeMessage(message.data);
  if (decoded.kind !== 'bundle') return t.fail('not a bundle');
  const batches = decoded.sections.map((s) => (s.decoded instanceof Error ? s.decoded : s.decoded.batch));
  t.deepEqual(batches, [a, b]);
  t.throws(() => decodeBatch(message.data), { instanceOf: MessageDecodeError });
});

test('a v3 message still decodes as one batch through decodeMessage', (t) => {
  const batch = batchOf('btcusdt', [trade(1)]);
  const decoded = decodeMessage(encodeBatch(batch).data);
  t.is(decoded.kind, 'batch');
  if (decoded.kind === 'batch') t.deepEqual(decoded.decoded.batch, batch);
});

test('a frame that does not add up makes the whole bundle unreadable', (t) => {
  const section = encodeBatch(batchOf('btcusdt', [trade(1)])).data;
  const framed = (lengths: unknown, body: Buffer) =>
    Buffer.concat([Buffer.from(`${JSON.stringify({ v: 4, l: lengths })}\n`), body]);
  for (const data of [
    framed([section.length + 1], section),
    framed([section.length - 1], section),
    framed([], Buffer.alloc(0)),
    framed('x', section),
    framed([0, section.length], section),
    framed([1.5], section),
  ]) {
    const error = t.throws(() => decodeMessage(data), { instanceOf: MessageDecodeError });
    t.is(error?.reason, 'invalid_bundle');
  }
});

test('an unreadable section is its own error; its neighbours decode', (t) => {
  const good = encodeBatch(batchOf('btcusdt', [trade(1)])).data;
  const nested = bundleOf([good]).data;
  const bad = [Buffer.from('not json\n'), Buffer.from('{"v":2}\n'), nested, Buffer.from('{"v":3,"e":""}\n')];
  const decoded = decodeMessage(bundleOf([good, ...bad, good]).data);
  if (decoded.kind !== 'bundle') return t.fail('not a bundle');
  const reasons = decoded.sections.map((s) =>
    s.decoded instanceof MessageDecodeError ? s.decoded.reason : 'ok',
  );
  t.deepEqual(reasons, [
    'ok',
    'not_json',
    'unknown_schema_version',
    'unknown_schema_version',
    'invalid_envelope_field',
    'ok',
  ]);
});

test('a bad shard or epoch is refused by name, not ignored', (t) => {
  for (const [field, value] of [
    ['sh', ''],
    ['sh', 3],
    ['ep', -1],
    ['ep', 1.5],
    ['ep', '2'],
  ] as const) {
    const data = encodeBatch(batchOf('btcusdt', [trade(1)])).data;
    const newline = data.indexOf(0x0a);
    const header = JSON.parse(data.subarray(0, newline).toString()) as Record<string, unknown>;
    header[field] = value;
    const forged = Buffer.concat([Buffer.from(JSON.stringify(header)), data.subarray(newline)]);
    const error = t.throws(() => decodeBatch(forged), { instanceOf: MessageDecodeError });
    t.regex(error?.message ?? '', new RegExp(`field ${field} `));
  }
});

test('the writer stores every batch of a bundle and commits coverage and checkpoints per stream', async (t) => {
  const { writer, warehouse, store, checkpoints } = setup();
  const a = batchOf('btcusdt', [trade(1), trade(2)], 0);
  const b = batchOf('ethusdt', [trade(3)], 5);
  const c = batchOf('solusdt', [], 9);
  const message = bundleOf([a, b, c].map((x) => encodeBatch(x).data));
  const result = await writer.handle(envelope(message.data, 'm1', message.attributes));
  t.like(result, { status: 200, outcome: 'committed', rows: 3, quarantined: 0, batches: 3 });
  t.is(warehouse.rows('trades').length, 3);
  t.deepEqual(
    warehouse
      .rows('coverage')
      .map((r) => r.insertId)
      .sort(),
    ['r1/binance:btcusdt:trade/0', 'r1/binance:ethusdt:trade/5', 'r1/binance:solusdt:trade/9'],
  );
  await checkpoints.flush();
  t.is((await store.get(a.stream))?.lastTradeId, '1002');
  t.is((await store.get(b.stream))?.lastTradeId, '1003');
  t.is((await store.get(c.stream))?.coveredTo, WINDOW.to);
});

test('a bundle of many sections costs one insert per table, then one coverage insert', async (t) => {
  const { writer, warehouse } = setup();
  const trades = ['btcusdt', 'ethusdt', 'solusdt', 'xrpusdt', 'adausdt'].map((symbol, k) =>
    encodeBatch(batchOf(symbol, [trade(10 * k + 1), trade(10 * k + 2)], k)),
  );
  const quotes = encodeBatch({
    ...batchOf('btcusdt', [], 7),
    stream: { exchange: 'binance', symbol: 'btcusdt', type: 'book_ticker' },
  });
  const message = bundleOf([...trades, quotes].map((m) => m.data));
  const result = await writer.handle(envelope(message.data, 'm1', message.attributes));
  t.like(result, { status: 200, rows: 10, batches: 6 });
  // The empty quote batch has no rows to insert: trades once, then the six coverage rows together.
  t.deepEqual(warehouse.calls, [
    { table: 'trades', rows: 10 },
    { table: 'coverage', rows: 6 },
  ]);
});

test('a row refused in a later section of a shared insert is quarantined under its own batch', async (t) => {
  const { writer, warehouse } = setup();
  const batches = ['btcusdt', 'ethusdt', 'solusdt'].map((symbol, k) =>
    batchOf(symbol, [trade(10 * k + 1), trade(10 * k + 2)], k),
  );
  const refusedId = batches[2]!.rowIds[1]!;
  warehouse.script.push({
    kind: 'fail',
    pick: (row) => (row.insertId === refusedId ? { reason: 'invalid', retryable: false } : undefined),
  });
  const message = bundleOf(batches.map((b) => encodeBatch(b).data));
  const result = await writer.handle(envelope(message.data, 'm1', message.attributes));
  t.like(result, { status: 200, rows: 5, quarantined: 1, batches: 3 });
  const [entry] = warehouse.rows('quarantine');
  t.is(entry?.json.batch_id, 'r1/binance:solusdt:trade/2');
  t.true(String(entry?.insertId).includes(refusedId), 'the refused row, not a neighbour');
});

test('a bad section is quarantined whole under its index and the good sections are stored', async (t) => {
  const { writer, warehouse } = setup();
  const good = encodeBatch(batchOf('btcusdt', [trade(1)])).data;
  const impossible = encodeBatch(batchOf('ethusdt', [trade(2)], 1, { window: { from: 5, to: 4 } })).data;
  const message = bundleOf([Buffer.from('garbage\n'), good, impossible]);
  const result = await writer.handle(envelope(message.data, 'm9'));
  t.like(result, { status: 200, outcome: 'committed', rows: 1, quarantined: 2, batches: 1 });
  const quarantine = warehouse.rows('quarantine').map((r) => r.json);
  t.deepEqual(
    quarantine.map((q) => [q.quarantine_id, q.reason]),
    [
      ['msg:m9#0', 'not_json'],
      ['msg:m9#2', 'invalid_envelope_field'],
    ],
  );
  // Each section is kept verbatim: its own bytes, not the whole message.
  t.is(quarantine[0]!.payload, 'garbage\n');
  const kept = String(quarantine[1]!.payload);
  t.deepEqual(
    kept.startsWith('base64:') ? Buffer.from(kept.slice(7), 'base64') : Buffer.from(kept),
    impossible,
  );
  t.is(warehouse.rows('coverage').length, 1);
  t.is(writer.counters.quarantinedSections, 2);
  t.is(writer.counters.quarantinedMessages, 0);
});

test('a bundle is answered 503 when any batch is not durable, and its redelivery adds no duplicate', async (t) => {
  const { writer, warehouse } = setup();
  const a = batchOf('btcusdt', [trade(1)]);
  const b = batchOf('ethusdt', [trade(2)]);
  const message = bundleOf([encodeBatch(a).data, encodeBatch(b).data]);
  let failing = true;
  const failEth = { reason: 'backendError', retryable: true };
  for (let i = 0; i < 20; i++) {
    warehouse.script.push({
      kind: 'fail',
      pick: (row) => (failing && row.insertId.startsWith('binance:ethusdt:t:') ? failEth : undefined),
    });
  }
  t.is((await writer.handle(envelope(message.data))).status, 503);
  failing = false;
  t.false(
    warehouse.rows('coverage').some((r) => r.insertId.includes('ethusdt')),
    'no coverage for the batch whose rows failed',
  );
  t.is((await writer.handle(envelope(message.data))).status, 200);
  t.is(warehouse.uniqueIds('trades').size, 2);
  t.is(warehouse.uniqueIds('coverage').size, 2);
});

/** A relay of `symbols` trade streams driven by hand: every 50 ms one trade of the first, then a poll. */
async function runRelay(symbols: number, seconds: number, options: Partial<RelayOptions> = {}) {
  const clock = new ManualClock(NOW);
  const feed = new FakeFeed();
  const publisher = new FakePublisher();
  const streams = Array.from({ length: symbols }, (_, i) => ({
    exchange: 'binance',
    symbol: `s${i}usdt`,
    type: 'trade' as const,
  }));
  const relay = new RelayService(feed, publisher, clock, silentLogger, {
    relayId: 'r1',
    streams,
    limits: { maxTicks: 1000, maxBytes: 1 << 20, maxWaitMs: 100, heartbeatMs: 1000 },
    maxInFlightBytes: 1 << 30,
    tickIntervalMs: 3_600_000,
    ...options,
  });
  void relay.start();
  for (let ms = 0; ms <= seconds * 1000; ms += 50) {
    clock.time = NOW + ms;
    feed.push({ kind: 'tick', tick: trade(ms, { symbol: 's0usdt', localTs: (NOW + ms) * 1000 }) });
    relay.tick();
  }
  await relay.stop();
  return { publisher, relay };
}

test('v4: messages per second do not grow with the number of streams; v3 sends one per batch', async (t) => {
  const few = await runRelay(2, 3);
  const many = await runRelay(200, 3);
  const v3 = await runRelay(200, 3, { messageFormat: 'v3' });
  // One message per poll that cut anything, whatever the number of streams.
  t.is(many.publisher.messages.length, few.publisher.messages.length);
  t.is(v3.publisher.messages.length, v3.publisher.published.length);
  t.true(v3.publisher.messages.length > 10 * many.publisher.messages.length);
  // The same batches travel either way: every stream's windows tile the same time.
  const windows = (p: FakePublisher) =>
    p.published.map((b) => `${b.stream.symbol}:${b.window.from}-${b.window.to}:${b.ticks.length}`).sort();
  t.deepEqual(windows(many.publisher), windows(v3.publisher));
  t.is(many.relay.counters.batchesOut, many.publisher.published.length);
  t.is(many.relay.counters.inFlightBatches, 0);
  t.is(many.relay.counters.inFlightBytes, 0);
});

test('v4: a bundle is cut at its size bound, and per fleet shard when batches carry one', async (t) => {
  const { publisher } = await runRelay(50, 2, {
    bundleLimits: { maxBytes: 1 << 20, maxBatches: 10, maxWaitMs: 0 },
  });
  t.true(publisher.messages.every((m) => Number(m.attributes.batches) <= 10));
  t.true(publisher.messages.some((m) => m.attributes.batches === '10'));
  const bundler = new Bundler({ maxBytes: 1 << 20, maxBatches: 100, maxWaitMs: 0 });
  const sealed = (shard: string | undefined) => ({
    stream: { exchange: 'binance', symbol: 'x', type: 'trade' as const },
    seq: 0,
    window: WINDOW,
    count: 0,
    message: { data: Buffer.alloc(10), attributes: {} },
    ...(shard === undefined ? {} : { shard, epoch: 1 }),
  });
  const state = undefined as never;
  for (const shard of ['binance/0', 'binance/1', undefined, 'binance/0'])
    bundler.add(sealed(shard), state, 0);
  const bundles = bundler.takeAll();
  t.deepEqual(
    bundles.map((b) => [b.shard, b.entries.length]),
    [
      ['binance/0', 2],
      ['binance/1', 1],
      [undefined, 1],
    ],
  );
  // A batch that would take a bundle past maxBytes starts the next one instead.
  const small = new Bundler({ maxBytes: 25, maxBatches: 100, maxWaitMs: 0 });
  t.is(small.add(sealed(undefined), state, 0), undefined);
  t.is(small.add(sealed(undefined), state, 0), undefined);
  t.is(small.add(sealed(undefined), state, 0)?.bytes, 20);
  t.is(small.waiting, 1);
});

test('the writer stores a gzipped bundle and quarantines a decompression bomb verbatim with its reason', async (t) => {
  const { writer, warehouse } = setup();
  const plain = encodeBundle(
    ['btcusdt', 'ethusdt', 'solusdt'].map(
      (s, i) => encodeBatch(batchOf(s, [trade(3 * i), trade(3 * i + 1)], i)).data,
    ),
    { relayId: 'r1', ticks: 6 },
  );
  const gzipped = encodeMessage(plain, 'gzip');
  const stored = await writer.handle(envelope(gzipped.data, 'm1', gzipped.attributes));
  t.like(stored, { status: 200, outcome: 'committed', rows: 6, batches: 3 });
  const bomb = gzipSync(Buffer.alloc(MAX_INFLATED_BYTES + 1, 0x41));
  const refused = await writer.handle(envelope(bomb, 'm2', { schema: '4', encoding: 'gzip' }));
  t.is(refused.status, 200);
  const quarantine = warehouse.rows('quarantine').map((r) => r.json);
  t.deepEqual(
    quarantine.map((q) => [q.quarantine_id, q.reason]),
    [['msg:m2', 'inflated_too_large']],
  );
  t.is(warehouse.rows('trades').length, 6);
});
