import test from 'ava';
import { coverageHoles, gapsToRecord, type Finding } from '../../functions/core/gapfill/detect.ts';
import { DEFAULT_GAPFILL_OPTIONS as OPTIONS } from '../../functions/core/gapfill/options.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';

const STREAM: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };
const NOW = Date.parse('2026-03-01T12:00:00Z');
const T0 = NOW - 3_600_000;
const spans = (gaps: readonly { from: number; to: number }[]) => gaps.map((g) => [g.from - T0, g.to - T0]);

test('holes between coverage windows are coverage gaps and a hole up to the horizon is a stale checkpoint', (t) => {
  const covered = [
    { from: T0, to: T0 + 1_000 },
    { from: T0 + 3_000, to: T0 + 5_000 },
  ];
  const found = coverageHoles(covered, T0, T0 + 9_000);
  t.deepEqual(
    found.map((f) => [f.by, f.interval.from - T0, f.interval.to - T0]),
    [
      ['coverage', 1_000, 3_000],
      ['stale_checkpoint', 5_000, 9_000],
    ],
  );
});

test('coverage reaching the horizon leaves no hole', (t) => {
  t.deepEqual(coverageHoles([{ from: T0, to: T0 + 9_000 }], T0, T0 + 9_000), []);
});

test('a hole the ledger already has is not recorded again, and the rest of a partly known hole is', (t) => {
  const found: Finding[] = [{ interval: { from: T0 + 1_000, to: T0 + 5_000 }, by: 'coverage' }];
  const gaps = gapsToRecord(found, [{ from: T0 + 1_000, to: T0 + 3_000 }], STREAM, NOW, OPTIONS);
  t.deepEqual(spans(gaps), [[3_000, 5_000]]);
  t.is(gaps[0]!.detectedBy, 'coverage');
  t.is(gaps[0]!.state, 'open');
  t.is(gaps[0]!.fillableAt, gaps[0]!.to + OPTIONS.availabilityDelayMs);
  t.deepEqual(gapsToRecord(found, [found[0]!.interval], STREAM, NOW, OPTIONS), []);
});

test('a trade-id jump across a coverage hole adds nothing within marginMs of that hole', (t) => {
  const hole = { from: T0 + 10_000, to: T0 + 20_000 };
  const jump = { from: hole.from - OPTIONS.marginMs, to: hole.to + OPTIONS.marginMs };
  const gaps = gapsToRecord(
    [
      { interval: hole, by: 'coverage' },
      { interval: jump, by: 'trade_ids' },
    ],
    [],
    STREAM,
    NOW,
    OPTIONS,
  );
  t.deepEqual(
    gaps.map((g) => g.detectedBy),
    ['coverage'],
  );
});

test('a hole longer than maxGapMs is recorded as pieces aligned to maxGapMs', (t) => {
  const size = OPTIONS.maxGapMs;
  const from = Math.ceil(T0 / size) * size + 1_000;
  const found: Finding[] = [{ interval: { from, to: from + 2 * size }, by: 'coverage' }];
  const gaps = gapsToRecord(found, [], STREAM, NOW, OPTIONS);
  t.is(gaps.length, 3);
  t.deepEqual(
    gaps.map((g) => [g.from, g.to]),
    [
      [from, from - 1_000 + size],
      [from - 1_000 + size, from - 1_000 + 2 * size],
      [from - 1_000 + 2 * size, from + 2 * size],
    ],
  );
});
