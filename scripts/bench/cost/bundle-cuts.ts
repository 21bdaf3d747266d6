// How often a v4 bundle is cut at the reference (functions/core/relay/bundler.ts): at its wait, or sooner when
// the reference's rate per bundle fills it (bytes or batches) first; from the run's bytes and batches per tick.
import { DEFAULT_BATCH_LIMITS } from '../../../functions/core/relay/batcher.ts';
import { DEFAULT_BUNDLE_LIMITS, type BundleLimits } from '../../../functions/core/relay/bundler.ts';
import { pollIntervalMs } from '../../../functions/relay/config.ts';
import type { RunCounts } from './measure.ts';
import type { Reference } from './model.ts';

export interface BundleCuts {
  /** What cuts a bundle first at the reference's rate per bundle. */
  readonly rule: 'wait' | 'bytes' | 'batches';
  /** Messages per second per open bundle at the reference (the largest of the three below). */
  readonly per_second: number;
  readonly by_wait: number;
  readonly by_bytes: number;
  readonly by_batches: number;
  /** The relay's bundle wait and poll: a bundle is sent on the first poll past (wait - poll). */
  readonly wait_ms: number;
  readonly poll_ms: number;
  /** Uncompressed section bytes per tick (the bundle's byte limit counts these) and batches per tick. */
  readonly section_bytes_per_tick: number;
  readonly batches_per_tick: number;
  /** The run's own messages per second (one bundle locally), to check the rule against. */
  readonly local_per_second: number;
}

/** Messages per second per bundle at the reference for a run of the deployed defaults. */
export function referenceBundleCuts(
  run: RunCounts,
  ref: Reference,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
  batchWaitMs: number = DEFAULT_BATCH_LIMITS.maxWaitMs,
): BundleCuts {
  const poll = pollIntervalMs(batchWaitMs);
  const ticksPerBundle = ref.ticksPerSecond / ref.bundlers;
  const bytesPerTick = run.relay.bytesPublished / run.ticks;
  const batchesPerTick = run.relay.batchesOut / run.ticks;
  // Counted as cut as early as a poll allows (wait - poll): an upper bound on messages.
  const byWait = 1000 / Math.max(poll, limits.maxWaitMs - poll);
  const byBytes = (ticksPerBundle * bytesPerTick) / limits.maxBytes;
  const byBatches = (ticksPerBundle * batchesPerTick) / limits.maxBatches;
  const perSecond = Math.max(byWait, byBytes, byBatches);
  const rule = perSecond === byWait ? 'wait' : perSecond === byBytes ? 'bytes' : 'batches';
  return {
    rule,
    per_second: perSecond,
    by_wait: byWait,
    by_bytes: byBytes,
    by_batches: byBatches,
    wait_ms: limits.maxWaitMs,
    poll_ms: poll,
    section_bytes_per_tick: bytesPerTick,
    batches_per_tick: batchesPerTick,
    local_per_second: run.publish.messages / run.seconds,
  };
}
