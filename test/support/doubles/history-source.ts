import { HistoryError } from '../../../functions/core/gapfill/history.ts';
import { streamId, type StreamKey } from '../../../functions/core/model/streams.ts';
import type { Tick } from '../../../functions/core/model/tick.ts';
import type { HistorySource } from '../../../functions/core/ports.ts';

/**
 * A HistorySource double: serves the ticks it holds whose stream matches and whose receive time lies in
 * [from, to) ms; `failures` scripts errors, one per call, before any tick is served.
 */
export class MemoryHistorySource implements HistorySource {
  readonly failures: HistoryError[] = [];
  readonly calls: { stream: string; from: number; to: number }[] = [];
  constructor(readonly held: Tick[] = []) {}

  async *ticks(stream: StreamKey, from: number, to: number, signal: AbortSignal): AsyncIterable<Tick> {
    this.calls.push({ stream: streamId(stream), from, to });
    const failure = this.failures.shift();
    if (failure) throw failure;
    for (const tick of this.held) {
      if (signal.aborted) throw new HistoryError('history fetch aborted', 'unavailable', undefined);
      const same =
        tick.type === stream.type && tick.exchange === stream.exchange && tick.symbol === stream.symbol;
      if (same && tick.localTs >= from * 1000 && tick.localTs < to * 1000) yield tick;
    }
  }
}
