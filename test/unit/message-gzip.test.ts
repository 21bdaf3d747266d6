import test from 'ava';
import { gzipSync } from 'node:zlib';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { encodeBundle } from '../../functions/core/contract/bundle.ts';
import {
  encodeMessage,
  inflateMessage,
  MAX_INFLATED_BYTES,
} from '../../functions/core/contract/compression.ts';
import { decodeMessage } from '../../functions/core/contract/decode.ts';
import { MessageDecodeError } from '../../functions/core/contract/decoded-batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { createWriter } from '../../functions/core/writer/writer.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryWarehouse } from '../support/doubles/warehouse.ts';
import { trade } from '../support/ticks.ts';

const NOW = Date.UTC(2026, 0, 2);

function batchOf(symbol: string, n: number, seq: number): Batch {
  const ticks = Array.from({ length: n }, (_, i) => ({ ...trade(seq * 1000 + i), symbol }));
  return {
    stream: { exchange: 'binance', symbol, type: 'trade' },
    relayId: 'r1',
    seq,
    window: { from: NOW - 1000, to: NOW - 900 },
    ticks,
    rowIds: ticks.map(rowId),
  };
}

const bundle = () =>
  encodeBundle(
    ['btcusdt', 'ethusdt', 'solusdt'].map((s, i) => encodeBatch(batchOf(s, 40, i)).data),
    { relayId: 'r1', ticks: 120 },
  );

function writerSetup() {
  const clock = new ManualClock(NOW);
  const warehouse = new MemoryWarehouse();
  const checkpoints = new CheckpointCoalescer(new MemoryCheckpointStore(clock), clock, silentLogger, 0);
  const writer = createWriter({
    warehouse,
    checkpoints,
    clock,
    logger: silentLogger,
    options: { retryBaseMs: 1 },
  });
  return { warehouse, writer };
}

const envelope = (data: Buffer, attributes: Record<string, string>, id = 'm1') => ({
  message: { data: data.toString('base64'), attributes, messageId: id },
  subscription: 'projects/p/subscriptions/s',
});

test('a gzipped bundle is smaller, says so in its attributes, and decodes to the same sections', (t) => {
  const plain = bundle();
  const gzipped = encodeMessage(plain, 'gzip');
  t.is(gzipped.attributes.encoding, 'gzip');
  t.is(gzipped.attributes.schema, '4');
  t.true(gzipped.data.length * 2 < plain.data.length, `${gzipped.data.length} vs ${plain.data.length} bytes`);
  t.deepEqual(decodeMessage(gzipped.data), decodeMessage(plain.data));
  t.is(encodeMessage(plain, 'identity'), plain);
});

test('uncompressed v3 and v4 messages still decode whatever their attributes (rolling deploy)', (t) => {
  const v3 = encodeBatch(batchOf('btcusdt', 3, 7)).data;
  t.is(inflateMessage(v3), v3);
  const read = decodeMessage(v3);
  t.is(read.kind, 'batch');
});

test('a message inflating past the bound is refused unread, and garbage after the gzip magic is a named error', (t) => {
  const bomb = gzipSync(Buffer.alloc(MAX_INFLATED_BYTES + 1024, 0x41));
  t.true(bomb.length < 100_000);
  const tooLarge = t.throws(() => decodeMessage(bomb), { instanceOf: MessageDecodeError });
  t.is((tooLarge as MessageDecodeError).reason, 'inflated_too_large');
  const broken = t.throws(() => decodeMessage(Buffer.from([0x1f, 0x8b, 1, 2, 3])), {
    instanceOf: MessageDecodeError,
  });
  t.is((broken as MessageDecodeError).reason, 'bad_gzip');
});

test('the writer stores a gzipped bundle and quarantines a decompression bomb verbatim with its reason', async (t) => {
  const { writer, warehouse } = writerSetup();
  const gzipped = encodeMessage(bundle(), 'gzip');
  const stored = await writer.handle(envelope(gzipped.data, gzipped.attributes));
  t.like(stored, { status: 200, outcome: 'committed', rows: 120, batches: 3 });
  const bomb = gzipSync(Buffer.alloc(MAX_INFLATED_BYTES + 1, 0x41));
  const refused = await writer.handle(envelope(bomb, { schema: '4', encoding: 'gzip' }, 'm2'));
  t.is(refused.status, 200);
  const quarantine = warehouse.rows('quarantine').map((r) => r.json);
  t.deepEqual(
    quarantine.map((q) => [q.quarantine_id, q.reason]),
    [['msg:m2', 'inflated_too_large']],
  );
  t.is(warehouse.rows('trades').length, 120);
});
