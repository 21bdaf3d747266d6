import test from 'ava';
import { CheckpointGapQueries } from '../../functions/core/gapfill/checkpoint-coverage.ts';
import { detect } from '../../functions/core/gapfill/detect.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import type { CheckpointAdvance } from '../../functions/core/ports.ts';
import {
  MAX_SPANS,
  mergeSpans,
  SPANS_RETENTION_MS,
  spansWithin,
} from '../../functions/core/writer/checkpoint-spans.ts';
import { combineAdvances, mergeCheckpoint } from '../../functions/core/writer/checkpoint.ts';
import { furthestCheckpoint } from '../../functions/core/writer/checkpoint-groups.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { memoryGapfillDeps } from '../support/gapfill-deps.ts';

const STREAM: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };
const NOW = Date.parse('2026-03-01T12:00:00Z');
const T0 = NOW - 3_600_000;
const advance = (from: number, to: number, n = 0): CheckpointAdvance => ({
  stream: STREAM,
  lastTickTs: null,
  lastTradeId: null,
  rows: 0,
  coveredTo: to,
  batchId: `b${n}`,
  windows: [{ from, to }],
});
const rel = (spans: readonly { from: number; to: number }[]) => spans.map((s) => [s.from - T0, s.to - T0]);

test('committed windows merged in any order, repeated or racing, give the same spans', (t) => {
  // 200 windows of 100 ms, two of them never committed (the holes).
  const windows = Array.from({ length: 200 }, (_, i) => [T0 + i * 100, T0 + (i + 1) * 100] as const).filter(
    (_, i) => i !== 50 && i !== 120,
  );
  const random = seededRandom(3);
  for (let round = 0; round < 5; round++) {
    const shuffled = [...windows, ...windows.slice(0, 30)].sort(() => random() - 0.5);
    let checkpoint = undefined;
    let pending: CheckpointAdvance | undefined;
    for (const [i, [from, to]] of shuffled.entries()) {
      pending = pending ? combineAdvances(pending, advance(from, to, i)) : advance(from, to, i);
      if (random() < 0.3) {
        checkpoint = mergeCheckpoint(checkpoint, pending, NOW);
        pending = undefined;
      }
    }
    if (pending) checkpoint = mergeCheckpoint(checkpoint, pending, NOW);
    t.deepEqual(rel(checkpoint!.covered!.spans), [
      [0, 5_000],
      [5_100, 12_000],
      [12_100, 20_000],
    ]);
    t.is(checkpoint!.covered!.since, T0);
  }
});

test('spans past the retention are dropped; past the count cap the oldest go and read as a hole, never as covered', (t) => {
  const old = mergeSpans(
    undefined,
    [{ from: NOW - SPANS_RETENTION_MS - 10, to: NOW - SPANS_RETENTION_MS - 5 }],
    NOW,
  );
  t.deepEqual(old, { since: NOW - SPANS_RETENTION_MS, spans: [] });

  const many = Array.from({ length: MAX_SPANS + 3 }, (_, i) => ({ from: T0 + i * 10, to: T0 + i * 10 + 5 }));
  const capped = mergeSpans(undefined, many, NOW)!;
  t.is(capped.spans.length, MAX_SPANS);
  t.is(capped.since, T0, 'where recording began stays');
  const read = spansWithin(capped, { from: T0 - 1000, to: NOW });
  t.deepEqual(rel(read.slice(0, 2)), [
    [0, 1],
    [30, 35],
  ]);
});

test('reading both layouts unites their spans', (t) => {
  const a = mergeCheckpoint(undefined, advance(T0, T0 + 100), NOW);
  const b = mergeCheckpoint(undefined, advance(T0 + 200, T0 + 300), NOW);
  t.deepEqual(rel(furthestCheckpoint(a, b)!.covered!.spans), [
    [0, 100],
    [200, 300],
  ]);
});

test('checkpoint detection finds the holes of committed coverage and a stale end, with no warehouse query', async (t) => {
  const checkpoints = new MemoryCheckpointStore({ now: () => NOW });
  for (const [from, to] of [
    [T0, T0 + 60_000],
    [T0 + 90_000, T0 + 600_000],
  ] as const)
    await checkpoints.advance(advance(from, to));
  const deps = memoryGapfillDeps(NOW, [STREAM], {
    checkpoints,
    gapQueries: new CheckpointGapQueries(checkpoints),
  });
  const gaps = await detect(deps, [STREAM]);
  t.deepEqual(
    gaps.map((g) => [g.detectedBy, g.from - T0]),
    [
      ['coverage', 60_000],
      ['stale_checkpoint', 600_000],
      ['stale_checkpoint', 900_000],
      ['stale_checkpoint', 1_800_000],
      ['stale_checkpoint', 2_700_000],
    ],
  );
  t.is(gaps[0]!.to - T0, 90_000);
});

test('a stream without spans reads as no coverage (detection then judges it by its checkpoint end), and no trade-id jump is read', async (t) => {
  const checkpoints = new MemoryCheckpointStore({ now: () => NOW });
  const queries = new CheckpointGapQueries(checkpoints);
  const windows = await queries.coverageWindows([STREAM], { from: T0, to: NOW });
  t.deepEqual(windows.get('binance:btcusdt:trade'), []);
  t.deepEqual((await queries.tradeIdJumps([STREAM])).get('binance:btcusdt:trade'), []);
});
