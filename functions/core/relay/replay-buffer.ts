import type { SealedBatch } from '../contract/batch.ts';
import type { StreamState } from './stream-registry.ts';

/** A batch a standby cut and did not publish, with the stream it belongs to. */
export interface HeldBatch {
  readonly batch: SealedBatch;
  readonly state: StreamState;
}

/** What the buffer had to drop because it was full (oldest first), since it was created. */
export interface ReplayOverflow {
  batches: number;
  ticks: number;
  bytes: number;
}

/**
 * A standby shard's recent batches, bounded in bytes, kept so that on take-over it can publish from the
 * old primary's publishedTo. Batches the primary has published past are pruned; past the bound the oldest
 * go first (counted in `overflow`). Per stream it tracks from when its held batches and open window tile
 * time without a break, which is the coverage a take-over can prove.
 */
export class ReplayBuffer {
  readonly overflow: ReplayOverflow = { batches: 0, ticks: 0, bytes: 0 };
  private held: HeldBatch[] = [];
  private start = 0;
  private heldBytes = 0;
  /** Per stream: end of its newest held window, and the start of the unbroken run of windows ending there. */
  private readonly lastTo = new Map<StreamState, number>();
  private readonly runFrom = new Map<StreamState, number>();

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.heldBytes;
  }

  get size(): number {
    return this.held.length - this.start;
  }

  add(batch: SealedBatch, state: StreamState): void {
    if (this.lastTo.get(state) !== batch.window.from) this.runFrom.set(state, batch.window.from);
    this.lastTo.set(state, batch.window.to);
    this.held.push({ batch, state });
    this.heldBytes += batch.message.data.length;
    while (this.heldBytes > this.maxBytes && this.size > 0) {
      const oldest = this.held[this.start++]!;
      this.forget(oldest);
      this.overflow.batches++;
      this.overflow.ticks += oldest.batch.count;
      this.overflow.bytes += oldest.batch.message.data.length;
    }
    if (this.start > 1024 && this.start * 2 > this.held.length) this.compact();
  }

  /** End of the newest window held (or pruned) for the stream since the last take(), null if none. */
  heldTo(state: StreamState): number | null {
    return this.lastTo.get(state) ?? null;
  }

  /** Drops every batch the primary has published past (window ending at or before `publishedTo`). */
  prune(publishedTo: number): void {
    const kept: HeldBatch[] = [];
    for (let i = this.start; i < this.held.length; i++) {
      const item = this.held[i]!;
      if (item.batch.window.to <= publishedTo) this.forget(item);
      else kept.push(item);
    }
    this.held = kept;
    this.start = 0;
  }

  /** Removes and returns (in the order cut) the batches whose window starts before `instant`. */
  takeBefore(instant: number): HeldBatch[] {
    const out: HeldBatch[] = [];
    const kept: HeldBatch[] = [];
    for (let i = this.start; i < this.held.length; i++) {
      const item = this.held[i]!;
      if (item.batch.window.from < instant) {
        this.forget(item);
        out.push(item);
      } else kept.push(item);
    }
    this.held = kept;
    this.start = 0;
    return out;
  }

  /** Empties the buffer, returning (in the order cut) the batches whose window ends after `from`. */
  take(from: number): HeldBatch[] {
    const out = this.held.slice(this.start).filter((h) => h.batch.window.to > from);
    this.held = [];
    this.start = 0;
    this.heldBytes = 0;
    this.lastTo.clear();
    this.runFrom.clear();
    return out;
  }

  /**
   * From when a take-over could publish every subscribed stream without a break (the latest start over
   * the streams), or null when a subscribed stream is not covering now. Streams never subscribed are left
   * out: no replica has coverage of them to lose.
   */
  coveredFrom(streams: readonly StreamState[]): number | null {
    let from: number | null = null;
    for (const s of streams) {
      if (!s.subscribed) continue;
      const since = s.batcher.coveringSince;
      if (since === null) return null;
      const run = this.lastTo.get(s) === since ? (this.runFrom.get(s) ?? since) : since;
      if (from === null || run > from) from = run;
    }
    return from;
  }

  private forget(item: HeldBatch): void {
    this.heldBytes -= item.batch.message.data.length;
    const run = this.runFrom.get(item.state);
    if (run !== undefined && item.batch.window.to > run) this.runFrom.set(item.state, item.batch.window.to);
  }

  private compact(): void {
    this.held = this.held.slice(this.start);
    this.start = 0;
  }
}
