import test from 'ava';
import { BufferSlab } from '../../functions/core/contract/buffer-slab.ts';

test('cuts from one slab do not overlap, start 8-byte aligned, and a full slab is replaced, not reused', (t) => {
  const slab = new BufferSlab(64, 32);
  const a = slab.take(13);
  const b = slab.take(20);
  t.is(a.buffer, b.buffer);
  t.is(b.byteOffset, 16);
  a.fill(1);
  b.fill(2);
  t.true(a.every((x) => x === 1));
  const c = slab.take(30); // 16 + 24 + 30 > 64: a new slab
  t.not(c.buffer, a.buffer);
  t.is(c.byteOffset, 0);
  t.true(b.every((x) => x === 2));
});

test('a buffer larger than a slab cut gets its own memory', (t) => {
  const slab = new BufferSlab(64, 32);
  const small = slab.take(8);
  const large = slab.take(33);
  t.is(large.length, 33);
  t.not(large.buffer, small.buffer);
  t.is(slab.take(8).byteOffset, 8);
});
