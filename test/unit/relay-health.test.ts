import test from 'ava';
import { evaluateHealth } from '../../functions/core/relay/health.ts';
import type { StreamStatus } from '../../functions/core/relay/relay-service.ts';

const stream = (id: string, overrides: Partial<StreamStatus> = {}): StreamStatus => ({
  stream: id,
  exchange: id.split(':')[0]!,
  covering: true,
  coveringSince: 1000,
  subscribed: true,
  ticksIn: 10,
  lastTickAt: 9_900,
  coveredTo: 9_950,
  lastPublishAt: 9_960,
  bufferedTicks: 0,
  ...overrides,
});
const context = { now: 10_000, startedAt: 0, stopping: false };

test('ready once every stream is subscribed; healthy while every stream is recorded recently', (t) => {
  const ok = evaluateHealth([stream('binance:btcusdt:trade'), stream('coinbase:btc-usd:trade')], context, {
    staleAfterMs: 5000,
  });
  t.like(ok, { ready: true, healthy: true, reasons: [] });
  t.like(ok.streams[0], { coverageLagMs: 50, freshnessLagMs: 100, stale: false });
});

test('a stream not yet subscribed holds readiness; a stale one fails health, each with a reason', (t) => {
  const report = evaluateHealth(
    [
      stream('binance:btcusdt:trade', {
        subscribed: false,
        covering: false,
        coveredTo: null,
        lastTickAt: null,
      }),
      stream('binance:ethusdt:trade', { coveredTo: 3000 }),
    ],
    context,
    { staleAfterMs: 5000 },
  );
  t.false(report.ready);
  t.false(report.healthy);
  t.deepEqual(report.reasons, [
    'binance:btcusdt:trade: not subscribed yet (no data since start)',
    'binance:btcusdt:trade: recorded only up to 10000 ms ago',
    'binance:ethusdt:trade: recorded only up to 7000 ms ago',
  ]);
  t.is(report.streams[0]!.freshnessLagMs, null);
});

test('shutting down is not ready', (t) => {
  t.false(
    evaluateHealth([stream('binance:btcusdt:trade')], { ...context, stopping: true }, { staleAfterMs: 5000 })
      .ready,
  );
});
