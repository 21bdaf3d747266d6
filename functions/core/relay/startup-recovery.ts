import { newGap } from '../gapfill/gaps.ts';
import type { Checkpoint, CheckpointStore, Clock, GapLedger, Logger } from '../ports.ts';
import { streamId, type StreamKey } from '../model/streams.ts';

export interface StartupRecoveryOptions {
  /**
   * How long after a stream's first coverage to re-read its checkpoint before recording a gap: a
   * previous instance (a rolling deploy overlaps two) may still be committing the time up to it.
   */
  readonly graceMs: number;
}

export type StartupOutcome =
  | { readonly kind: 'no_checkpoint' }
  | { readonly kind: 'covered'; readonly coveredTo: number }
  | { readonly kind: 'already_recorded'; readonly gapId: string }
  | {
      readonly kind: 'recorded';
      readonly gapId: string;
      readonly from: number;
      readonly to: number;
      readonly created: boolean;
    }
  | { readonly kind: 'failed'; readonly error: unknown };

/**
 * Belt and braces for a relay restart: a stream whose last committed point (checkpoint.coveredTo) is
 * older than the relay's first coverage of it gets a gap `[coveredTo, firstCoverage)` in the ledger,
 * detected by `relay_startup`. The gap-filler would find the same hole in the coverage table; recording
 * it here makes it visible at once. Idempotent: the gap id is a function of (stream, from, to), and a
 * stream with an unfinished gap that already spans the hole gets no second one. Failures are logged,
 * never fatal.
 */
export class StartupRecovery {
  private readonly atStart = new Map<string, Checkpoint>();
  private readonly pending = new Set<Promise<StartupOutcome>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly outcomes = new Map<string, StartupOutcome>();
  private stopped = false;

  constructor(
    private readonly checkpoints: CheckpointStore,
    private readonly ledger: GapLedger,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: StartupRecoveryOptions,
  ) {}

  /** Reads every configured stream's checkpoint (before the feed starts) and logs what was found. */
  async load(streams: readonly StreamKey[]): Promise<void> {
    const now = this.clock.now();
    const found = await Promise.all(
      streams.map(async (stream) => {
        try {
          return [stream, await this.checkpoints.get(stream)] as const;
        } catch (error) {
          this.logger.log('WARNING', 'could not read checkpoint at start', {
            stream: streamId(stream),
            error,
          });
          return [stream, undefined] as const;
        }
      }),
    );
    const summary: Record<string, number | null> = {};
    for (const [stream, checkpoint] of found) {
      if (checkpoint && checkpoint.coveredTo > 0) this.atStart.set(streamId(stream), checkpoint);
      summary[streamId(stream)] = checkpoint && checkpoint.coveredTo > 0 ? now - checkpoint.coveredTo : null;
    }
    this.logger.log('INFO', 'checkpoints read at start (age of the last committed coverage, ms)', {
      ages: summary,
    });
  }

  /** Hook for RelayOptions.onFirstCoverage: checks the stream for a startup gap after the grace period. */
  onFirstCoverage(stream: StreamKey, from: number): void {
    if (this.stopped) return;
    const check = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, this.options.graceMs);
      this.timers.add(timer);
    }).then(() =>
      this.stopped ? ({ kind: 'covered', coveredTo: from } as const) : this.check(stream, from),
    );
    this.pending.add(check);
    void check.finally(() => this.pending.delete(check));
  }

  /** Waits for the checks in progress (tests, and shutdown when there is time). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Cancels checks not started yet: the gap-filler finds those holes from coverage. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  outcome(stream: StreamKey): StartupOutcome | undefined {
    return this.outcomes.get(streamId(stream));
  }

  private async check(stream: StreamKey, from: number): Promise<StartupOutcome> {
    const id = streamId(stream);
    let outcome: StartupOutcome;
    try {
      const current = await this.checkpoints.get(stream);
      const coveredTo = Math.max(current?.coveredTo ?? 0, this.atStart.get(id)?.coveredTo ?? 0);
      if (coveredTo <= 0) outcome = { kind: 'no_checkpoint' };
      else if (coveredTo >= from) outcome = { kind: 'covered', coveredTo };
      else {
        const open = await this.ledger.list({ stream, states: ['open', 'filling', 'failed'] });
        const spanning = open.find((g) => g.from <= coveredTo && g.to >= from);
        if (spanning) outcome = { kind: 'already_recorded', gapId: spanning.id };
        else {
          const gap = newGap(stream, coveredTo, from, 'relay_startup', this.clock.now());
          const created = await this.ledger.record(gap);
          outcome = { kind: 'recorded', gapId: gap.id, from: gap.from, to: gap.to, created };
        }
      }
    } catch (error) {
      outcome = { kind: 'failed', error };
    }
    this.outcomes.set(id, outcome);
    const fields = { stream: id, firstCoverage: from, ...outcome };
    if (outcome.kind === 'recorded') {
      this.logger.log(
        'WARNING',
        'startup gap recorded: the stream was not recorded before this relay started',
        {
          ...fields,
          durationMs: outcome.to - outcome.from,
        },
      );
    } else if (outcome.kind === 'failed') {
      this.logger.log(
        'WARNING',
        'startup gap check failed; the gap-filler will find any hole from coverage',
        fields,
      );
    } else {
      this.logger.log('INFO', 'startup gap check', fields);
    }
    return outcome;
  }
}
