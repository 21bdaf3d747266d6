import type {
  CheckpointStore,
  Clock,
  GapLedger,
  GapQueries,
  HistorySource,
  LeaseStore,
  Logger,
  Warehouse,
} from '../ports.ts';
import type { GapfillOptions } from './options.ts';

/** The ports and options one gap-filler run works with. */
export interface GapfillDeps {
  readonly warehouse: Warehouse;
  readonly gapQueries: GapQueries;
  readonly ledger: GapLedger;
  readonly leases: LeaseStore;
  readonly history: HistorySource;
  readonly checkpoints: CheckpointStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Unique per run, e.g. instance + random: the lease holder. */
  readonly holder: string;
  readonly options: GapfillOptions;
}
