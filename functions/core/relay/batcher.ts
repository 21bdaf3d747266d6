import type { SealedBatch } from '../contract/batch.ts';
import { encodeColumns } from '../contract/encode.ts';
import type { StreamKey } from '../model/streams.ts';
import { TickColumns } from '../contract/tick-columns.ts';
import type { Tick } from '../model/tick.ts';

export interface BatchLimits {
  /** Most ticks in one batch (soft: ticks received in one millisecond are never split, see cut()). */
  readonly maxTicks: number;
  /** Approximate most bytes of encoded ticks in one batch (soft, like maxTicks). */
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

/**
 * Batches one stream's ticks and tracks its coverage window.
 *
 * Time is the relay's receive time in whole milliseconds (`floor(tick.localTs / 1000)`). A window opens
 * at the receive time of the first tick that proves the subscription, and each batch claims
 * `[from, boundary)`: every tick of the stream received in that span is in the batch. The caller passes
 * the boundary, the latest instant up to which it knows every received message has been handed over
 * (and the connection was alive); ticks received at or after the boundary stay for the next batch. So
 * consecutive batches tile the listened time exactly and a claim never runs ahead of the evidence.
 */
export class StreamBatcher {
  /**
   * Start (ms) of the open coverage window, NaN while not covering: a number from the start, never null
   * (see docs/PERFORMANCE.md).
   */
  private windowFrom = Number.NaN;
  /** The buffered ticks, in the message's layout: a cut encodes them, the tick objects are not kept. */
  private readonly columns: TickColumns;
  /**
   * Receive millisecond of each buffered tick (clamped to be non-decreasing and >= the window start).
   * Reused like the columns: only the first `columns.length` entries are current.
   */
  private readonly ms: number[] = [];
  private firstTickAt = 0;
  private seq = 0;
  /** The last receive ms at which a size cut found nothing to cut (all ticks in that ms); avoids rescans. */
  private blockedAtMs = Number.NaN;

  constructor(
    readonly stream: StreamKey,
    private readonly relayId: string,
    private readonly limits: BatchLimits,
  ) {
    this.columns = new TickColumns(stream.type);
  }

  get isCovering(): boolean {
    return !Number.isNaN(this.windowFrom);
  }

  /** Start of the open window, or null when not covering. */
  get coveringSince(): number | null {
    return this.isCovering ? this.windowFrom : null;
  }

  get bufferedTicks(): number {
    return this.columns.length;
  }

  get bufferedBytes(): number {
    return this.columns.approxBytes;
  }

  /** Starts coverage at `at` (ms) unless it is already running. */
  open(at: number): void {
    if (!this.isCovering) this.windowFrom = at;
  }

  /**
   * Adds a tick of this stream (`now`: wall-clock ms; `rowId`: the id the message carries, undefined when
   * keyed, see `carriedRowId`). Returns a batch when the count or size limit is reached and something
   * before `boundary` can be cut.
   */
  add(tick: Tick, rowId: string | undefined, now: number, boundary: number): SealedBatch | undefined {
    let at = Math.floor(tick.localTs / 1000);
    if (!this.isCovering) this.windowFrom = at;
    const columns = this.columns;
    const held = columns.length;
    const last = held > 0 ? this.ms[held - 1]! : this.windowFrom;
    if (at < last) at = last; // a clock step back must not put a tick before its window
    if (held === 0) this.firstTickAt = now;
    columns.push(tick, rowId);
    this.ms[held] = at;
    if (columns.length < this.limits.maxTicks && columns.approxBytes < this.limits.maxBytes) return undefined;
    if (at === this.blockedAtMs && boundary <= at) return undefined;
    const batch = this.cut(now, boundary, false);
    if (batch === undefined) this.blockedAtMs = at;
    return batch;
  }

  /** Returns a batch when the oldest tick has waited long enough or a heartbeat is due. */
  poll(now: number, boundary: number): SealedBatch | undefined {
    if (!this.isCovering) return undefined;
    if (this.columns.length > 0) {
      return now - this.firstTickAt >= this.limits.maxWaitMs ? this.cut(now, boundary, false) : undefined;
    }
    if (boundary - this.windowFrom >= this.limits.heartbeatMs) return this.cut(now, boundary, true);
    return undefined;
  }

  /**
   * Ends coverage at `boundary` and returns everything buffered (possibly an empty batch closing the
   * window; nothing when there is neither a tick nor time to claim). Ticks received at or after the
   * boundary still travel in this batch, outside its window: they were received, so they are published,
   * but the window claims nothing past the evidence.
   */
  close(boundary: number): SealedBatch | undefined {
    if (!this.isCovering) return undefined;
    const from = this.windowFrom;
    this.windowFrom = Number.NaN;
    // Nothing received and no time to claim: an empty zero-length batch would say nothing.
    if (this.columns.length === 0 && boundary <= from) return undefined;
    return this.emit(from, Math.max(from, boundary), this.columns.length);
  }

  /** Cuts `[from, boundary)`; undefined when that holds no tick and an empty batch was not asked for. */
  private cut(now: number, boundary: number, allowEmpty: boolean): SealedBatch | undefined {
    const from = this.windowFrom;
    if (boundary <= from) return undefined;
    let split = this.columns.length;
    while (split > 0 && this.ms[split - 1]! >= boundary) split--;
    if (split === 0 && !allowEmpty) return undefined;
    const batch = this.emit(from, boundary, split);
    this.windowFrom = boundary;
    if (this.columns.length > 0) this.firstTickAt = now;
    return batch;
  }

  /** Encodes the first `count` buffered ticks as a batch with window [from, to) and forgets them. */
  private emit(from: number, to: number, count: number): SealedBatch {
    const head = {
      stream: this.stream,
      relayId: this.relayId,
      seq: this.seq++,
      window: { from, to },
    };
    const message = encodeColumns(head, this.columns, count);
    if (count < this.columns.length) this.ms.copyWithin(0, count, this.columns.length);
    this.columns.drop(count);
    this.blockedAtMs = Number.NaN;
    return { ...head, count, message };
  }
}
