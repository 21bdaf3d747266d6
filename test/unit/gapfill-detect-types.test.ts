import test from 'ava';
import { detect } from '../../functions/core/gapfill/detect.ts';
import type { GapQueries } from '../../functions/core/ports.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import { MemoryGapQueries } from '../support/doubles/gap-queries.ts';
import { memoryGapfillDeps } from '../support/gapfill-deps.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const T0 = NOW - 3_600_000;

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
  const gaps = await detect(memoryGapfillDeps(NOW, streams, { gapQueries: spy }), streams);
  t.deepEqual(
    gaps.map((g) => [g.stream.type, g.detectedBy, g.from - T0, g.to - T0]),
    [
      ['derivative_ticker', 'coverage', 60_000, 90_000],
      ['liquidation', 'coverage', 60_000, 90_000],
    ],
  );
  t.deepEqual(asked, [], 'liquidations and tickers carry no contiguous exchange numbering');
});
