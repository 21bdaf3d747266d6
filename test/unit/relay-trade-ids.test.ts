import test from 'ava';
import type { Batch } from '../../functions/core/contract/batch.ts';
import { RelayService } from '../../functions/core/relay/relay-service.ts';
import {
  checkTradeId,
  decimalId,
  newTrack,
  TradeIdJumpRecorder,
} from '../../functions/core/relay/trade-id-check.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import type { Tick } from '../../functions/core/model/tick.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryGapLedger } from '../support/doubles/gap-ledger.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';
import { FakeFeed } from '../support/doubles/tick-feed.ts';
import { FakePublisher } from '../support/doubles/tick-publisher.ts';
import { trade } from '../support/ticks.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const STREAM: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };
const limits = { maxTicks: 1000, maxBytes: 1 << 20, maxWaitMs: 100, heartbeatMs: 1000 };
const tradeAt = (n: number, ms: number, exchange = 'binance'): Tick =>
  trade(n, { exchange, localTs: ms * 1000 + 250 });
const windows = (batches: Batch[]) => batches.map((b) => [b.window.from - T0, b.window.to - T0]);

test('only a trade id past the next one is a jump; repeats, older ids and text ids are not', (t) => {
  const track = newTrack();
  const seen = [
    ['100', 1],
    ['101', 2],
    ['101', 3],
    ['99', 4],
    ['104', 5],
    ['x', 6],
    ['105', 7],
  ].map(([id, at]) => checkTradeId(track, id as string, at as number));
  t.deepEqual(seen, [
    undefined,
    undefined,
    undefined,
    undefined,
    { before: 2, after: 5 },
    undefined,
    undefined,
  ]);
});

test('a trade id is read as decimal digits up to the largest safe integer; anything else is not an id', (t) => {
  t.is(decimalId('0'), 0);
  t.is(decimalId('5123456789'), 5_123_456_789);
  t.is(decimalId('9007199254740991'), Number.MAX_SAFE_INTEGER);
  for (const text of ['', '9007199254740992', '12345678901234567', '1e3', ' 12', '-1', '12.0', '0x10']) {
    t.true(Number.isNaN(decimalId(text)), text);
  }
});

test('a trade-id jump ends coverage at the trade before it and resumes at the trade after it (inside its window); the gap goes to the ledger', async (t) => {
  const clock = new ManualClock(T0);
  const feed = new FakeFeed();
  const publisher = new FakePublisher();
  const ledger = new MemoryGapLedger();
  const logger = new MemoryLogger();
  const recorder = new TradeIdJumpRecorder(ledger, logger, () => clock.now(), 1);
  const relay = new RelayService(feed, publisher, clock, logger, {
    relayId: 'r1',
    streams: [STREAM],
    limits,
    maxInFlightBytes: 1 << 30,
    tickIntervalMs: 3_600_000,
    onTradeIdJump: (stream, jump) => recorder.record(stream, jump),
  });
  void relay.start();
  t.teardown(() => relay.stop());
  for (const [n, ms] of [
    [1, 10],
    [2, 20],
    [6, 500],
    [7, 600],
  ] as const) {
    clock.time = T0 + ms;
    feed.push({ kind: 'tick', tick: tradeAt(n, T0 + ms) });
  }
  clock.time = T0 + 700;
  await relay.stop();
  await recorder.settle();
  t.deepEqual(windows(publisher.published), [
    [10, 20],
    [500, 601],
  ]);
  t.is(publisher.published.flatMap((b) => b.ticks).length, 4, 'every trade is still published');
  const gaps = [...ledger.gaps.values()];
  t.deepEqual(
    gaps.map((g) => [g.detectedBy, g.from - T0, g.to - T0]),
    [['trade_ids', 20, 501]],
  );
});

test('an exchange without contiguous trade ids is not checked', async (t) => {
  const clock = new ManualClock(T0);
  const feed = new FakeFeed();
  const publisher = new FakePublisher();
  const jumps: unknown[] = [];
  const stream: StreamKey = { exchange: 'bybit', symbol: 'BTCUSDT', type: 'trade' };
  const relay = new RelayService(feed, publisher, clock, new MemoryLogger(), {
    relayId: 'r1',
    streams: [stream],
    limits,
    maxInFlightBytes: 1 << 30,
    tickIntervalMs: 3_600_000,
    onTradeIdJump: (_s, jump) => jumps.push(jump),
  });
  void relay.start();
  t.teardown(() => relay.stop());
  for (const [n, ms] of [
    [1, 10],
    [9, 20],
  ] as const) {
    clock.time = T0 + ms;
    feed.push({ kind: 'tick', tick: { ...tradeAt(n, T0 + ms, 'bybit'), symbol: 'BTCUSDT' } });
  }
  clock.time = T0 + 100;
  await relay.stop();
  t.deepEqual(jumps, []);
  t.deepEqual(windows(publisher.published), [[10, 21]], 'one window, closed after the last message');
});
