import { combineAdvances } from './checkpoint.ts';
import type { CheckpointAdvance, CheckpointStore, Clock, Logger } from './ports.ts';
import { streamId } from './streams.ts';

interface StreamState {
  pending: CheckpointAdvance | undefined;
  lastWriteAt: number;
  timer: NodeJS.Timeout | undefined;
  writing: Promise<void> | undefined;
}

/**
 * Coalesces checkpoint advances so that no checkpoint document is written more than once per
 * `minIntervalMs` (Firestore sustains about one write per second per document). Advances arriving
 * in between are merged and written together; a failed write is merged back and retried.
 */
export class CheckpointCoalescer {
  private readonly streams = new Map<string, StreamState>();
  private closed = false;

  constructor(
    private readonly store: CheckpointStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly minIntervalMs = 1000,
  ) {}

  submit(advance: CheckpointAdvance): void {
    const key = streamId(advance.stream);
    let state = this.streams.get(key);
    if (!state) {
      state = { pending: undefined, lastWriteAt: -Infinity, timer: undefined, writing: undefined };
      this.streams.set(key, state);
    }
    state.pending = state.pending ? combineAdvances(state.pending, advance) : advance;
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

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
  }

  get pendingStreams(): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.pending) n++;
    return n;
  }

  private schedule(key: string, state: StreamState): void {
    if (state.writing || state.timer || !state.pending) return;
    const wait = state.lastWriteAt + this.minIntervalMs - this.clock.now();
    if (wait <= 0 && !this.closed) {
      void this.write(key, state);
      return;
    }
    state.timer = setTimeout(
      () => {
        state.timer = undefined;
        void this.write(key, state);
      },
      Math.max(wait, 0),
    );
  }

  private write(key: string, state: StreamState): Promise<void> {
    if (state.writing) return state.writing;
    const advance = state.pending;
    if (!advance) return Promise.resolve();
    state.pending = undefined;
    state.lastWriteAt = this.clock.now();
    state.writing = this.store
      .advance(advance)
      .then(
        () => undefined,
        (error: unknown) => {
          state.pending = state.pending ? combineAdvances(advance, state.pending) : advance;
          this.logger.log('WARNING', 'checkpoint write failed; will retry', { stream: key, error });
        },
      )
      .finally(() => {
        state.writing = undefined;
        this.schedule(key, state);
      });
    return state.writing;
  }
}
