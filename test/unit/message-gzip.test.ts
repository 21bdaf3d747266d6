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
