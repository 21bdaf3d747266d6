import test from 'ava';
import { streamId } from '../../functions/core/model/streams.ts';
import { startStack } from '../../scripts/local/stack.ts';
import { compareTrades, waitUntil } from '../../scripts/local/verify.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt'];

test('every trade the simulator sent reaches the warehouse exactly once and checkpoints equal the last trades', async (t) => {
  const emulators = requireEmulators();
  const stack = await startStack({
    suffix: uniqueName('slice').replace(/-/g, '_'),
    seed: 20261126,
    ratePerSymbol: 300,
    symbols: SYMBOLS,
    emulators: { pubsub: emulators.pubsub, firestore: emulators.firestore },
  });
  t.teardown(() => stack.stop());
  const sentSoFar = () => SYMBOLS.reduce((n, s) => n + count(stack.simulator.sentTrades(s)), 0);

  t.true(await waitUntil(async () => sentSoFar() >= 2100, 60_000, 100), 'simulator sent 2,100 trades');
  // Freeze the ground truth: no more frames, sockets stay open (so nothing is in flight on the wire).
  stack.simulator.stall(600_000, 'drop');
  const expected = Object.fromEntries(SYMBOLS.map((s) => [s, stack.simulator.sentTrades(s)]));
  const compare = () =>
    compareTrades(stack.warehouse, stack.projectId, stack.topology.dataset, 'binance', expected);

  t.true(await waitUntil(async () => (await compare()).missing === 0, 60_000), 'all trades arrived');
  const result = await compare();
  t.log(JSON.stringify(result));
  t.true(result.sent >= 2000);
  t.is(result.missing, 0);
  t.is(result.duplicates, 0);
  t.is(result.unexpected, 0);

  for (const symbol of SYMBOLS) {
    const ranges = expected[symbol]!;
    const lastId = String(ranges[ranges.length - 1]!.lastId);
    const stream = { exchange: 'binance', symbol, type: 'trade' } as const;
    const settled = await waitUntil(
      async () => (await stack.checkpoints.get(stream))?.lastTradeId === lastId,
      15_000,
    );
    const checkpoint = await stack.checkpoints.get(stream);
    t.true(settled, `checkpoint of ${streamId(stream)} is ${checkpoint?.lastTradeId}, want ${lastId}`);
  }

  t.is(await stack.relay.terminate(), 0, 'the relay drains and exits 0 on SIGTERM');
});

function count(ranges: readonly { firstId: number; lastId: number }[]): number {
  return ranges.reduce((n, r) => n + (r.lastId - r.firstId + 1), 0);
}
