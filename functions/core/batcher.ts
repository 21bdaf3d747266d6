import type { Batch } from './message.ts';
import type { StreamKey } from './streams.ts';
import type { Tick } from './tick.ts';

export interface BatchLimits {
  /** Most ticks in one batch. */
  readonly maxTicks: number;
  /** Approximate most bytes of encoded ticks in one batch. */
  readonly maxBytes: number;
  /** Longest a received tick waits before its batch is sent. */
  readonly maxWaitMs: number;
  /** A covered stream with no ticks still sends an empty batch this often, so silence is provable. */
  readonly heartbeatMs: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = Object.freeze({
  maxTicks: 1000,
  maxBytes: 512 * 1024,
  maxWaitMs: 100,
  heartbeatMs: 1000,
});

/** Rough encoded size of a tick in the v1 format, so batches can be bounded without encoding twice. */
export function approxTickBytes(tick: Tick): number {
  if (tick.type === 'book_change') return 64 + 24 * (tick.bids.length + tick.asks.length);
  return tick.type === 'trade' ? 96 : 110;
}

/**
 * Batches one stream's ticks and tracks its coverage. A window opens when the relay starts listening
 * (first data after a connect) and is closed on a disconnect, a stale socket or shutdown; each batch
 * carries the part of the window it covers, so consecutive batches tile the listened time exactly.
 */
export class StreamBatcher {
  private windowFrom: number | null = null;
  private ticks: Tick[] = [];
  private rowIds: string[] = [];
  private bytes = 0;
  private firstTickAt = 0;
  private lastTickMs = 0;
  private seq = 0;

  constructor(
    readonly stream: StreamKey,
    private readonly relayId: string,
    private readonly limits: BatchLimits,
  ) {}

  get isCovering(): boolean {
    return this.windowFrom !== null;
  }

  get bufferedTicks(): number {
    return this.ticks.length;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Starts coverage at `now` if it is not already running. */
  open(now: number): void {
    if (this.windowFrom === null) this.windowFrom = now;
  }

  /** Adds a tick received at `now`; returns a batch when a count or size limit is reached. */
  add(tick: Tick, rowId: string, now: number): Batch | undefined {
    this.open(now);
    if (this.ticks.length === 0) this.firstTickAt = now;
    this.ticks.push(tick);
    this.rowIds.push(rowId);
    this.bytes += approxTickBytes(tick);
    this.lastTickMs = Math.max(this.lastTickMs, Math.floor(tick.localTs / 1000));
    if (this.ticks.length >= this.limits.maxTicks || this.bytes >= this.limits.maxBytes) return this.cut(now);
    return undefined;
  }

  /** Returns a batch when the oldest tick has waited long enough or the heartbeat is due. */
  poll(now: number): Batch | undefined {
    if (this.windowFrom === null) return undefined;
    if (this.ticks.length > 0 && now - this.firstTickAt >= this.limits.maxWaitMs) return this.cut(now);
    if (this.ticks.length === 0 && now - this.windowFrom >= this.limits.heartbeatMs) return this.cut(now);
    return undefined;
  }

  /** Ends coverage at `now` and returns what was buffered (possibly an empty batch closing the window). */
  close(now: number): Batch | undefined {
    if (this.windowFrom === null) return undefined;
    const batch = this.cut(now);
    this.windowFrom = null;
    return batch;
  }

  /** Ends coverage without emitting: the buffered ticks were lost to the relay, leaving an explicit hole. */
  abandon(): number {
    const lost = this.ticks.length;
    this.windowFrom = null;
    this.reset();
    return lost;
  }

  private cut(now: number): Batch {
    const from = this.windowFrom ?? now;
    // The window is half-open and must contain every tick's receive time, also when clocks disagree by a ms.
    const to = Math.max(now, from, this.ticks.length > 0 ? this.lastTickMs + 1 : 0);
    const batch: Batch = {
      stream: this.stream,
      relayId: this.relayId,
      seq: this.seq++,
      window: { from, to },
      ticks: this.ticks,
      rowIds: this.rowIds,
    };
    this.windowFrom = to;
    this.reset();
    return batch;
  }

  private reset(): void {
    this.ticks = [];
    this.rowIds = [];
    this.bytes = 0;
    this.lastTickMs = 0;
  }
}
