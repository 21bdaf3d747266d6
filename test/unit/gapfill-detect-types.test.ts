import test from 'ava';
import { detect } from '../../functions/core/gapfill/detect.ts';
import { DEFAULT_GAPFILL_OPTIONS } from '../../functions/core/gapfill/options.ts';
import type { GapQueries } from '../../functions/core/ports.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryGapLedger } from '../support/doubles/gap-ledger.ts';
import { MemoryGapQueries } from '../support/doubles/gap-queries.ts';
import { MemoryHistorySource } from '../support/doubles/history-source.ts';
import { MemoryLeaseStore } from '../support/doubles/lease-store.ts';
import { MemoryWarehouse } from '../support/doubles/warehouse.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const T0 = NOW - 3_600_000;

function depsWith(gapQueries: GapQueries, streams: readonly StreamKey[]) {
  const clock = new ManualClock(NOW);
  return {
    warehouse: new MemoryWarehouse(),
    gapQueries,
    ledger: new MemoryGapLedger(),
    leases: new MemoryLeaseStore(clock),
    history: new MemoryHistorySource(),
    checkpoints: new MemoryCheckpointStore(clock),
    clock,
    logger: silentLogger,
    holder: 'test',
    options: { ...DEFAULT_GAPFILL_OPTIONS, streams },
  };
}

test('derivative ticker and liquidation streams get coverage holes and no trade-id check', async (t) => {
  const queries = new MemoryGapQueries();
  const asked: StreamKey[][] = [];
  const spy: GapQueries = {
    coverageWindows: (streams, range) => queries.coverageWindows(streams, range),
    tradeIdJumps: (streams, range) => {
      asked.push([...streams]);
      return queries.tradeIdJumps(streams, range);
    },
  };
  const streams: StreamKey[] = [
    { exchange: 'binance', symbol: 'btcusdt', type: 'derivative_ticker' },
    { exchange: 'binance', symbol: 'btcusdt', type: 'liquidation' },
  ];
  for (const stream of streams) {
    queries.addCoverage(stream, T0, T0 + 60_000);
    queries.addCoverage(stream, T0 + 90_000, NOW);
  }
  const gaps = await detect(depsWith(spy, streams), streams);
  t.deepEqual(
    gaps.map((g) => [g.stream.type, g.detectedBy, g.from - T0, g.to - T0]),
    [
      ['derivative_ticker', 'coverage', 60_000, 90_000],
      ['liquidation', 'coverage', 60_000, 90_000],
    ],
  );
  t.deepEqual(asked, [], 'liquidations and tickers carry no contiguous exchange numbering');
});
