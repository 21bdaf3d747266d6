import { combineAdvances } from './checkpoint.ts';
import type { CheckpointAdvance, CheckpointStore, Clock, Logger } from '../ports.ts';
import { streamId } from '../model/streams.ts';
import { DEFAULT_CHECKPOINT_INTERVAL_MS } from './options.ts';
import { logSignal } from '../shared/signals.ts';

/** One checkpoint document's pending advances (one stream's, or a whole group's). */
interface DocState {
  /** Advances not yet written, by stream id, each the merge of every advance since the last write. */
  pending: Map<string, CheckpointAdvance>;
  /** When the oldest advance in `pending` arrived. */
  pendingSince: number | undefined;
  /** When the oldest advance of the write in flight arrived, and how many streams it carries. */
  writingSince: number | undefined;
  writingStreams: number;
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
 * in between are merged and written together, every stream of a group document in one write (so writes
 * follow documents, not streams); a failed write is merged back and retried.
 * `submit` never waits: checkpoint writes are off the delivery's hot path.
 */
export class CheckpointCoalescer {
  private readonly docs = new Map<string, DocState>();
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
    const key = this.store.docOf(advance.stream);
    let state = this.docs.get(key);
    if (!state) {
      state = {
        pending: new Map(),
        pendingSince: undefined,
        writingSince: undefined,
        writingStreams: 0,
        lastWriteAt: -Infinity,
        timer: undefined,
        writing: undefined,
      };
      this.docs.set(key, state);
    }
    const stream = streamId(advance.stream);
    const before = state.pending.get(stream);
    state.pending.set(stream, before ? combineAdvances(before, advance) : advance);
    state.pendingSince ??= this.clock.now();
    this.schedule(key, state);
  }

  /** Writes everything pending now, ignoring the interval (shutdown, tests). */
  async flush(): Promise<void> {
    for (const state of this.docs.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
    }
    for (let round = 0; round < 3; round++) {
      await Promise.all([...this.docs.values()].map((s) => s.writing));
      const pending = [...this.docs.entries()].filter(([, s]) => s.pending.size > 0);
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

  /** Streams with an advance not yet stored (pending, or in a write not yet settled). */
  get pendingStreams(): number {
    let n = 0;
    for (const s of this.docs.values()) n += s.pending.size + s.writingStreams;
    return n;
  }

  stats(): CoalescerStats {
    const now = this.clock.now();
    let oldest = now;
    for (const s of this.docs.values()) {
      oldest = Math.min(oldest, s.pendingSince ?? Infinity, s.writingSince ?? Infinity);
    }
    return {
      pendingStreams: this.pendingStreams,
      checkpointAgeMs: now - oldest,
      writes: this.writes,
      failedWrites: this.failedWrites,
    };
  }

  private schedule(key: string, state: DocState): void {
    if (this.closed || state.writing || state.timer || state.pending.size === 0) return;
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

  private write(key: string, state: DocState): Promise<void> {
    if (state.writing) return state.writing;
    if (state.pending.size === 0) return Promise.resolve();
    const advances = state.pending;
    state.pending = new Map();
    state.writingSince = state.pendingSince;
    state.writingStreams = advances.size;
    state.pendingSince = undefined;
    state.lastWriteAt = this.clock.now();
    state.writing = this.store
      .advanceAll([...advances.values()])
      .then(
        () => {
          this.writes++;
        },
        (error: unknown) => {
          this.failedWrites++;
          // Merged back: the positions it carried are not lost, and their age keeps counting.
          for (const [stream, advance] of advances) {
            const later = state.pending.get(stream);
            state.pending.set(stream, later ? combineAdvances(advance, later) : advance);
          }
          state.pendingSince = Math.min(state.pendingSince ?? Infinity, state.writingSince ?? Infinity);
          logSignal(this.logger, 'writer_checkpoint_failed', {
            stream: advances.keys().next().value,
            document: key,
            streams: advances.size,
            error,
          });
        },
      )
      .finally(() => {
        state.writing = undefined;
        state.writingSince = undefined;
        state.writingStreams = 0;
        this.schedule(key, state);
      });
    return state.writing;
  }
}
