import { combineAdvances } from './checkpoint.ts';
import type { CheckpointAdvance, CheckpointStore, Clock, Logger } from '../ports.ts';
import { streamId } from '../model/streams.ts';
import { DEFAULT_CHECKPOINT_INTERVAL_MS } from './options.ts';
import { logSignal } from '../shared/signals.ts';

interface StreamState {
  pending: CheckpointAdvance | undefined;
  /** When the oldest advance in `pending` arrived. */
  pendingSince: number | undefined;
  /** When the oldest advance of the write in flight arrived. */
  writingSince: number | undefined;
  lastWriteAt: number;
  timer: NodeJS.Timeout | undefined;
  writing: Promise<void> | undefined;
}

/** How far the stored checkpoints trail what this instance has committed. */
export interface CoalescerStats {
  /** Streams with an advance not yet stored. */
  readonly pendingStreams: number;
  /** Age of the oldest advance not yet stored (0 when none): this instance's checkpoint lag. */
  readonly checkpointAgeMs: number;
  readonly writes: number;
  readonly failedWrites: number;
}

/**
 * Coalesces checkpoint advances so that no checkpoint document is written more than once per
 * `minIntervalMs` (Firestore sustains about one write per second per document). Advances arriving
 * in between are merged and written together; a failed write is merged back and retried.
 * `submit` never waits: checkpoint writes are off the delivery's hot path.
 */
export class CheckpointCoalescer {
  private readonly streams = new Map<string, StreamState>();
  private closed = false;
  private writes = 0;
  private failedWrites = 0;

  constructor(
    private readonly store: CheckpointStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly minIntervalMs = DEFAULT_CHECKPOINT_INTERVAL_MS,
  ) {}

  submit(advance: CheckpointAdvance): void {
    const key = streamId(advance.stream);
    let state = this.streams.get(key);
    if (!state) {
      state = {
        pending: undefined,
        pendingSince: undefined,
        writingSince: undefined,
        lastWriteAt: -Infinity,
        timer: undefined,
        writing: undefined,
      };
      this.streams.set(key, state);
    }
    if (state.pending) state.pending = combineAdvances(state.pending, advance);
    else {
      state.pending = advance;
      state.pendingSince = this.clock.now();
    }
    this.schedule(key, state);
  }

  /** Writes everything pending now, ignoring the interval (shutdown, tests). */
  async flush(): Promise<void> {
    for (const state of this.streams.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
    }
    for (let round = 0; round < 3; round++) {
      await Promise.all([...this.streams.values()].map((s) => s.writing));
      const pending = [...this.streams.entries()].filter(([, s]) => s.pending);
      if (pending.length === 0) return;
      await Promise.all(pending.map(([key, s]) => this.write(key, s)));
    }
  }

  /** Flushes and stops scheduling further writes. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
  }

  get pendingStreams(): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.pending || s.writing) n++;
    return n;
  }

  stats(): CoalescerStats {
    const now = this.clock.now();
    let pendingStreams = 0;
    let oldest = now;
    for (const s of this.streams.values()) {
      const since = Math.min(s.pendingSince ?? Infinity, s.writingSince ?? Infinity);
      if (since === Infinity) continue;
      pendingStreams++;
      oldest = Math.min(oldest, since);
    }
    return {
      pendingStreams,
      checkpointAgeMs: now - oldest,
      writes: this.writes,
      failedWrites: this.failedWrites,
    };
  }

  private schedule(key: string, state: StreamState): void {
    if (this.closed || state.writing || state.timer || !state.pending) return;
    const wait = state.lastWriteAt + this.minIntervalMs - this.clock.now();
    if (wait <= 0) {
      void this.write(key, state);
      return;
    }
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void this.write(key, state);
    }, wait);
  }

  private write(key: string, state: StreamState): Promise<void> {
    if (state.writing) return state.writing;
    const advance = state.pending;
    if (!advance) return Promise.resolve();
    state.pending = undefined;
    state.writingSince = state.pendingSince;
    state.pendingSince = undefined;
    state.lastWriteAt = this.clock.now();
    state.writing = this.store
      .advance(advance)
      .then(
        () => {
          this.writes++;
        },
        (error: unknown) => {
          this.failedWrites++;
          // Merged back: the position it carried is not lost, and its age keeps counting.
          state.pending = state.pending ? combineAdvances(advance, state.pending) : advance;
          state.pendingSince = Math.min(state.pendingSince ?? Infinity, state.writingSince ?? Infinity);
          logSignal(this.logger, 'writer_checkpoint_failed', { stream: key, error });
        },
      )
      .finally(() => {
        state.writing = undefined;
        state.writingSince = undefined;
        this.schedule(key, state);
      });
    return state.writing;
  }
}
