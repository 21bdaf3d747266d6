import type { SealedBatch } from '../contract/batch.ts';
import type { StreamState } from './stream-registry.ts';

/** Which message layout the relay publishes: `v4` bundles many batches per message, `v3` one batch each. */
export type MessageFormat = 'v4' | 'v3';

export interface BundleLimits {
  /** Most bytes of sections in one bundle, unless one batch alone is larger (Pub/Sub takes at most 10 MB). */
  readonly maxBytes: number;
  /** ... or this many batches. */
  readonly maxBatches: number;
  /** ... or once its first batch has waited this long (ms): a tick waits at most the batch's wait plus this. */
  readonly maxWaitMs: number;
}

export const DEFAULT_BUNDLE_LIMITS: BundleLimits = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxBatches: 2_000,
  maxWaitMs: 150,
});

/** A batch waiting in a bundle, with the stream state its outcome is accounted to. */
export interface Bundled {
  readonly batch: SealedBatch;
  readonly state: StreamState;
}

/** Batches to publish as one message; `shard` and `epoch` are set when they were bundled per fleet shard. */
export interface Bundle {
  readonly shard: string | undefined;
  readonly epoch: number | undefined;
  readonly entries: Bundled[];
  bytes: number;
  /** When its first batch was added (clock ms). */
  readonly openedAt: number;
}

/**
 * Gathers sealed batches into bundles: one open bundle per fleet shard (a batch without a shard goes to the
 * relay's own bundle). A bundle is cut when full (bytes or batches) or, by the caller's poll (`takeDue`),
 * once its first batch has waited `maxWaitMs`: fewer, fuller messages for a bounded wait.
 */
export class Bundler {
  /** Open bundles by shard and epoch: a take-over mid-bundle starts a new one, so a message has one epoch. */
  private readonly open = new Map<string | undefined, Bundle>();

  constructor(private readonly limits: BundleLimits) {}

  /**
   * Adds a batch; returns a bundle to send when one is complete: the open one when this batch would take it
   * past maxBytes (the batch then starts the next), or the one this batch filled. So a bundle stays within
   * maxBytes unless a single batch is larger.
   */
  add(batch: SealedBatch, state: StreamState, now: number): Bundle | undefined {
    const { shard, epoch } = batch;
    const key = shard === undefined ? undefined : `${shard}@${epoch ?? ''}`;
    const size = batch.message.data.length;
    let bundle = this.open.get(key);
    let complete: Bundle | undefined;
    if (bundle !== undefined && bundle.bytes + size > this.limits.maxBytes) {
      complete = bundle;
      bundle = undefined;
    }
    if (bundle === undefined) {
      bundle = { shard, epoch, entries: [], bytes: 0, openedAt: now };
      this.open.set(key, bundle);
    }
    bundle.entries.push({ batch, state });
    bundle.bytes += size;
    if (complete !== undefined) return complete;
    if (bundle.bytes < this.limits.maxBytes && bundle.entries.length < this.limits.maxBatches)
      return undefined;
    this.open.delete(key);
    return bundle;
  }

  /** The open bundles whose first batch has waited `maxWaitMs` by `now`, taken out. */
  takeDue(now: number): Bundle[] {
    const due: Bundle[] = [];
    for (const [key, bundle] of this.open) {
      if (now - bundle.openedAt < this.limits.maxWaitMs) continue;
      due.push(bundle);
      this.open.delete(key);
    }
    return due;
  }

  /** Every open bundle, emptied. */
  takeAll(): Bundle[] {
    const bundles = [...this.open.values()];
    this.open.clear();
    return bundles;
  }

  /** Batches waiting in open bundles. */
  get waiting(): number {
    let n = 0;
    for (const bundle of this.open.values()) n += bundle.entries.length;
    return n;
  }
}
