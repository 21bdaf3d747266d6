import type { SealedBatch } from '../contract/batch.ts';
import type { StreamState } from './stream-registry.ts';

/** Where cut batches go: BatchPublishing (to the broker), or a fleet shard's gate (broker or replay buffer). */
export interface BatchSink {
  publish(batch: SealedBatch, state: StreamState): void;
  /** Sends the open bundles whose wait is over (called after each cut round; bundler.ts has the bound). */
  flush(): void;
}
