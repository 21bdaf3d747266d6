import type { SealedBatch } from '../contract/batch.ts';
import type { StreamState } from './stream-registry.ts';

/** Where cut batches go: BatchPublishing (to the broker), or a fleet shard's gate (broker or replay buffer). */
export interface BatchSink {
  publish(batch: SealedBatch, state: StreamState): void;
  /** Sends what waits in open bundles (called after each cut round, so bundling adds one poll at most). */
  flush(): void;
}
