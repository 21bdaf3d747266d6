import type { SealedBatch } from '../contract/batch.ts';
import type { StreamState } from './stream-registry.ts';

/** Where cut batches go: BatchPublishing (to the broker), or a fleet shard's gate (broker or replay buffer). */
export interface BatchSink {
  publish(batch: SealedBatch, state: StreamState): void;
}
