import test from 'ava';
import { newGap, type Gap } from '../../functions/core/gapfill/gaps.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import { EXIT, runCli } from '../../scripts/ops/cli.ts';
import { sharedReads } from '../../scripts/ops/serve.ts';
import type { CoverageInterval } from '../../scripts/ops/status/queries.ts';
import { buildSnapshot, MAX_GAPS_PER_STREAM, type StatusInputs } from '../../scripts/ops/status/snapshot.ts';

const BTC: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };
const ETH: StreamKey = { exchange: 'binance', symbol: 'ethusdt', type: 'trade' };
const NOW = 1_800_000_000_000;
const RANGE = { from: NOW - 3_600_000, to: NOW };

function cover(stream: string, source: 'live' | 'backfill', from: number, to: number): CoverageInterval {
  return { stream, source, from, to, windows: 1 };
}

function inputs(over: Partial<StatusInputs> = {}): StatusInputs {
  return {
    now: NOW,
    range: RANGE,
    refreshMs: 5000,
    deployment: { projectId: 'p', dataset: 'd' },
    streams: [BTC, ETH],
    coverage: { rows: [], truncated: false },
    quarantine: { rows: [], truncated: false },
    gaps: { rows: [], truncated: false },
    checkpoints: [],
    errors: [],
    ...over,
  };
}

function gap(stream: StreamKey, from: number, to: number, state: Gap['state']): Gap {
  return { ...newGap(stream, from, to, 'coverage', NOW - 60_000), state };
}

test('the timeline keeps live and backfilled coverage apart, clipped to the range', (t) => {
  const snap = buildSnapshot(
    inputs({
      coverage: {
        rows: [
          cover('binance:btcusdt:trade', 'live', RANGE.from - 10_000, RANGE.from + 1000),
          cover('binance:btcusdt:trade', 'backfill', RANGE.from + 1000, RANGE.from + 5000),
          cover('binance:btcusdt:trade', 'live', RANGE.from + 5000, NOW - 2000),
        ],
        truncated: false,
      },
    }),
  );
  const btc = snap.streams[0]!;
  t.deepEqual(btc.timeline.live, [
    { fromMs: RANGE.from, toMs: RANGE.from + 1000 },
    { fromMs: RANGE.from + 5000, toMs: NOW - 2000 },
  ]);
  t.deepEqual(btc.timeline.backfill, [{ fromMs: RANGE.from + 1000, toMs: RANGE.from + 5000 }]);
  t.deepEqual(btc.coveredMs, { live: 1000 + 3_600_000 - 7000, backfill: 4000 });
  t.is(btc.uncoveredMs, 2000);
  t.deepEqual(btc.freshness, {
    coveredTo: new Date(NOW - 2000).toISOString(),
    coveredToMs: NOW - 2000,
    lagMs: 2000,
    from: 'coverage',
  });
  const eth = snap.streams[1]!;
  t.deepEqual(eth.timeline.live, []);
  t.is(eth.uncoveredMs, 3_600_000, 'a stream without coverage is all uncovered, not left out');
  t.deepEqual(eth.freshness.lagMs, null);
});

test('backfilled time also covered live counts as live once, so the shares add up to the range', (t) => {
  const btc = buildSnapshot(
    inputs({
      coverage: {
        rows: [
          cover('binance:btcusdt:trade', 'live', RANGE.from, RANGE.from + 10_000),
          cover('binance:btcusdt:trade', 'backfill', RANGE.from + 5000, RANGE.from + 20_000),
        ],
        truncated: false,
      },
    }),
  ).streams[0]!;
  t.deepEqual(btc.coveredMs, { live: 10_000, backfill: 10_000 });
  t.is(btc.uncoveredMs, 3_600_000 - 20_000);
  t.deepEqual(btc.timeline.backfill, [{ fromMs: RANGE.from + 5000, toMs: RANGE.from + 20_000 }]);
});

test('gaps not yet filled are drawn on the timeline; filled ones are listed only', (t) => {
  const open = gap(BTC, NOW - 600_000, NOW - 590_000, 'open');
  const failed = gap(BTC, RANGE.from - 60_000, RANGE.from + 60_000, 'failed');
  const filled = gap(BTC, NOW - 900_000, NOW - 890_000, 'filled');
  const old = gap(BTC, RANGE.from - 120_000, RANGE.from - 60_000, 'open');
  const snap = buildSnapshot(inputs({ gaps: { rows: [open, failed, filled, old], truncated: false } }));
  const btc = snap.streams[0]!;
  t.deepEqual(btc.timeline.unresolved, [
    { fromMs: open.from, toMs: open.to, state: 'open', id: open.id },
    { fromMs: RANGE.from, toMs: failed.to, state: 'failed', id: failed.id },
  ]);
  t.deepEqual(
    btc.gaps.map((g) => g.id),
    [open.id, filled.id, failed.id, old.id],
    'latest end first, an old open gap still listed',
  );
  t.deepEqual(btc.gapCounts, { open: 2, filling: 0, filled: 1, failed: 1, unfillable: 0 });
  t.deepEqual(snap.streams[1]!.gaps, []);
});

test('the gap list is capped per stream and says how many it left out', (t) => {
  const rows = Array.from({ length: MAX_GAPS_PER_STREAM + 7 }, (_, i) =>
    gap(BTC, NOW - 1000 * (i + 2), NOW - 1000 * (i + 1), 'filled'),
  );
  const btc = buildSnapshot(inputs({ gaps: { rows, truncated: false } })).streams[0]!;
  t.is(btc.gaps.length, MAX_GAPS_PER_STREAM);
  t.is(btc.gapsNotListed, 7);
  t.is(btc.gapCounts.filled, MAX_GAPS_PER_STREAM + 7);
});

test('quarantine is counted per stream; input naming no configured stream is shown apart, not dropped', (t) => {
  const snap = buildSnapshot(
    inputs({
      quarantine: {
        rows: [
          { stream: 'binance:btcusdt:trade', reason: 'invalid_tick', count: 3, lastAt: NOW - 1000 },
          { stream: null, reason: 'undecodable', count: 2, lastAt: NOW - 2000 },
          { stream: 'binance:BTCUSDT:trade', reason: 'unknown_stream', count: 1, lastAt: NOW - 3000 },
        ],
        truncated: true,
      },
    }),
  );
  t.deepEqual(snap.streams[0]!.quarantine, [
    { reason: 'invalid_tick', count: 3, lastAt: new Date(NOW - 1000).toISOString() },
  ]);
  t.deepEqual(
    snap.quarantineOther.map((q) => [q.stream, q.reason, q.count]),
    [
      [null, 'undecodable', 2],
      ['binance:BTCUSDT:trade', 'unknown_stream', 1],
    ],
  );
  t.true(snap.truncated.quarantine);
});

test('a source that failed is named, and freshness falls back to the checkpoint', (t) => {
  const snap = buildSnapshot(
    inputs({
      coverage: undefined,
      errors: [{ source: 'coverage', message: 'query timed out after 60000 ms' }],
      checkpoints: [
        {
          stream: BTC,
          lastTickTs: (NOW - 9000) * 1000,
          lastTradeId: '42',
          committedRows: 10,
          coveredTo: NOW - 8000,
          lastBatchId: 'r/binance:btcusdt:trade/1',
          updatedAt: NOW - 7000,
        },
      ],
    }),
  );
  const btc = snap.streams[0]!;
  t.is(btc.coveredMs, null, 'unknown, not zero');
  t.is(btc.uncoveredMs, null);
  t.deepEqual(btc.freshness, {
    coveredTo: new Date(NOW - 8000).toISOString(),
    coveredToMs: NOW - 8000,
    lagMs: 8000,
    from: 'checkpoint',
  });
  t.deepEqual(snap.errors, [{ source: 'coverage', message: 'query timed out after 60000 ms' }]);
});

test('concurrent requests share one read, and a fresh result is served again', async (t) => {
  let reads = 0;
  let release: () => void = () => undefined;
  const read = sharedReads(async () => {
    reads += 1;
    await new Promise<void>((resolve) => (release = resolve));
    return reads;
  }, 60_000);
  const both = Promise.all([read(), read()]);
  release();
  t.deepEqual(await both, [1, 1]);
  t.is(await read(), 1);
  t.is(reads, 1);
});

test('a failed read is not kept: the next request reads again', async (t) => {
  let reads = 0;
  const read = sharedReads(async () => {
    reads += 1;
    if (reads === 1) throw new Error('unreachable');
    return reads;
  }, 60_000);
  await t.throwsAsync(read(), { message: 'unreachable' });
  t.is(await read(), 2);
});

function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return runCli(args, { env, out: (l) => out.push(l), err: (l) => err.push(l) }).then((code) => ({
    code,
    out: out.join('\n'),
    err: err.join('\n'),
  }));
}

test('ops serve checks its flags and configuration before it starts anything', async (t) => {
  const env = { GOOGLE_CLOUD_PROJECT: 'p', RELAY_STREAMS: 'binance:btcusdt:trade' };
  const help = await cli(['serve', '--help']);
  t.is(help.code, EXIT.ok);
  t.regex(help.out, /--hours H/);
  for (const args of [
    ['--port', '70000'],
    ['--port', 'x'],
    ['--hours', '0'],
    ['--hours', '721'],
    ['--refresh', '0.5'],
    ['--host', ''],
    ['--nope'],
  ]) {
    const run = await cli(['serve', ...args], env);
    t.is(run.code, EXIT.usage, args.join(' '));
    t.regex(run.err, /^error: /);
  }
  const noStreams = await cli(['serve'], { GOOGLE_CLOUD_PROJECT: 'p' });
  t.is(noStreams.code, EXIT.config);
  t.regex(noStreams.err, /RELAY_STREAMS/);
  t.regex((await cli(['--help'])).out, /serve \[--port N\]/);
});
