import type { GapfillDeps } from '../../functions/core/gapfill/deps.ts';
import { DEFAULT_GAPFILL_OPTIONS } from '../../functions/core/gapfill/options.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { MemoryCheckpointStore } from './doubles/checkpoint-store.ts';
import { ManualClock } from './doubles/clock.ts';
import { MemoryGapLedger } from './doubles/gap-ledger.ts';
import { MemoryGapQueries } from './doubles/gap-queries.ts';
import { MemoryHistorySource } from './doubles/history-source.ts';
import { MemoryLeaseStore } from './doubles/lease-store.ts';
import { MemoryWarehouse } from './doubles/warehouse.ts';

/** Gap-filler deps on the in-memory doubles at `now`, recording `streams`; `over` replaces ports but the warehouse. */
export function memoryGapfillDeps(
  now: number,
  streams: readonly StreamKey[],
  over: Partial<Omit<GapfillDeps, 'warehouse'>> = {},
): GapfillDeps & { warehouse: MemoryWarehouse } {
  const clock = new ManualClock(now);
  return {
    warehouse: new MemoryWarehouse(),
    gapQueries: new MemoryGapQueries(),
    ledger: new MemoryGapLedger(),
    leases: new MemoryLeaseStore(clock),
    history: new MemoryHistorySource(),
    checkpoints: new MemoryCheckpointStore(clock),
    clock,
    logger: silentLogger,
    holder: 'test',
    options: { ...DEFAULT_GAPFILL_OPTIONS, streams },
    ...over,
  };
}
