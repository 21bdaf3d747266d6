import test from 'ava';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { StartupRecovery } from '../../functions/core/relay/startup-recovery.ts';
import { streamId, type StreamKey } from '../../functions/core/model/streams.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryGapLedger } from '../support/doubles/gap-ledger.ts';

const btc: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };
const eth: StreamKey = { exchange: 'binance', symbol: 'ethusdt', type: 'trade' };

async function setup(coveredTo?: number) {
  const clock = new ManualClock(1_000_000);
  const checkpoints = new MemoryCheckpointStore(clock);
  if (coveredTo !== undefined) {
    await checkpoints.advance({
      stream: btc,
      lastTickTs: 1,
      lastTradeId: '1',
      rows: 1,
      coveredTo,
      batchId: 'b',
    });
  }
  const ledger = new MemoryGapLedger();
  const recovery = new StartupRecovery(checkpoints, ledger, clock, silentLogger, { graceMs: 0 });
  await recovery.load([btc, eth]);
  return { checkpoints, ledger, recovery };
}

test('a stream last committed before the relay began covering it gets a relay_startup gap', async (t) => {
  const { ledger, recovery } = await setup(900_000);
  recovery.onFirstCoverage(btc, 1_000_500);
  recovery.onFirstCoverage(eth, 1_000_500);
  await recovery.settle();
  const gaps = await ledger.list();
  t.is(gaps.length, 1);
  t.like(gaps[0], { stream: btc, from: 900_000, to: 1_000_500, detectedBy: 'relay_startup', state: 'open' });
  t.like(recovery.outcome(eth), { kind: 'no_checkpoint' });
});

test('recording is idempotent: the same hole, or one an unfinished gap spans, is not recorded twice', async (t) => {
  const { ledger, recovery } = await setup(900_000);
  recovery.onFirstCoverage(btc, 1_000_500);
  await recovery.settle();
  const again = new StartupRecovery(
    new MemoryCheckpointStore(),
    ledger,
    new ManualClock(1_000_000),
    silentLogger,
    { graceMs: 0 },
  );
  await again.load([btc]);
  // Another instance, same checkpoint (carried by the ledger's gap), starting inside the recorded hole.
  (again as unknown as { atStart: Map<string, { coveredTo: number }> }).atStart.set(streamId(btc), {
    coveredTo: 900_000,
  });
  again.onFirstCoverage(btc, 1_000_200);
  await again.settle();
  t.like(again.outcome(btc), { kind: 'already_recorded' });
  t.is(ledger.gaps.size, 1);
});

test('no gap when the checkpoint catches up during the grace period (a rolling deploy overlaps)', async (t) => {
  const { checkpoints, ledger, recovery } = await setup(900_000);
  await checkpoints.advance({
    stream: btc,
    lastTickTs: 2,
    lastTradeId: '2',
    rows: 1,
    coveredTo: 1_000_600,
    batchId: 'b2',
  });
  recovery.onFirstCoverage(btc, 1_000_500);
  await recovery.settle();
  t.like(recovery.outcome(btc), { kind: 'covered', coveredTo: 1_000_600 });
  t.is(ledger.gaps.size, 0);
});

test('a ledger failure is reported, not thrown', async (t) => {
  const { ledger, recovery } = await setup(900_000);
  ledger.record = async () => {
    throw new Error('UNAVAILABLE');
  };
  recovery.onFirstCoverage(btc, 1_000_500);
  await recovery.settle();
  t.like(recovery.outcome(btc), { kind: 'failed' });
});
