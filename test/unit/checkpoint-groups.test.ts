import test from 'ava';
import type { CheckpointAdvance } from '../../functions/core/ports.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import {
  checkpointDocId,
  furthestCheckpoint,
  GROUP_BUCKETS,
  groupDocId,
} from '../../functions/core/writer/checkpoint-groups.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';

const streamOf = (i: number, type: 'trade' | 'book_ticker' = 'trade') => ({
  exchange: 'binance',
  symbol: `s${i}usdt`,
  type,
});
const advance = (i: number, n: number, type: 'trade' | 'book_ticker' = 'trade'): CheckpointAdvance => ({
  stream: streamOf(i, type),
  lastTickTs: 1_700_000_000_000_000 + n,
  lastTradeId: type === 'trade' ? String(n) : null,
  rows: 1,
  coveredTo: 1_700_000_000_000 + n,
  batchId: `b${n}`,
});

test('a group document id is stable and never a stream id', (t) => {
  const stream = streamOf(7);
  t.is(groupDocId(stream), groupDocId({ ...stream }));
  t.regex(groupDocId(stream), new RegExp(`^group:binance:trade:[0-${GROUP_BUCKETS - 1}]$`));
  t.is(checkpointDocId(stream, 'per-stream'), 'binance:s7usdt:trade');
  const buckets = new Set(Array.from({ length: 200 }, (_, i) => groupDocId(streamOf(i))));
  t.is(buckets.size, GROUP_BUCKETS, 'symbols spread over every bucket');
});

test('grouped: checkpoint writes follow group documents, not streams; per-stream: one write per stream', async (t) => {
  for (const [layout, most] of [
    ['grouped', 2 * 2 * GROUP_BUCKETS],
    ['per-stream', 2 * 500],
  ] as const) {
    const clock = new ManualClock(0);
    const store = new MemoryCheckpointStore(clock, layout);
    const coalescer = new CheckpointCoalescer(store, clock, silentLogger, 1000);
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 250; i++) {
        coalescer.submit(advance(i, round));
        coalescer.submit(advance(i, round, 'book_ticker'));
      }
    }
    await coalescer.flush();
    t.true(store.writes <= most, `${layout}: ${store.writes} writes`);
    if (layout === 'per-stream') t.true(store.writes >= 500);
    const all = await store.list();
    t.is(all.length, 500);
    t.true(all.every((c) => c.committedRows === 3 && c.coveredTo === advance(0, 3).coveredTo));
    t.is(coalescer.pendingStreams, 0);
  }
});

test('reading both layouts takes the furthest position and coverage end and adds the rows', (t) => {
  const a = { ...advance(1, 10), coveredTo: 2_000 };
  const older = {
    stream: a.stream,
    lastTickTs: a.lastTickTs! - 5,
    lastTradeId: '5',
    committedRows: 4,
    coveredTo: 3_000,
    lastBatchId: 'old',
    updatedAt: 1,
  };
  const newer = {
    ...older,
    lastTickTs: a.lastTickTs!,
    lastTradeId: '10',
    committedRows: 2,
    coveredTo: 2_000,
    lastBatchId: 'new',
    updatedAt: 9,
  };
  const both = furthestCheckpoint(older, newer);
  t.deepEqual(both, { ...newer, committedRows: 6, coveredTo: 3_000 });
  t.deepEqual(furthestCheckpoint(newer, older), both);
  t.is(furthestCheckpoint(undefined, older), older);
  t.is(furthestCheckpoint(undefined, undefined), undefined);
});
