import type { Gap, GapState } from '../../../functions/core/gapfill/gaps.ts';
import { streamId, type StreamKey } from '../../../functions/core/model/streams.ts';
import type { GapLedger } from '../../../functions/core/ports.ts';

/** A GapLedger double: gaps by id in memory, record-once and compare-and-set transitions as in Firestore. */
export class MemoryGapLedger implements GapLedger {
  readonly gaps = new Map<string, Gap>();
  records = 0;
  async record(gap: Gap): Promise<boolean> {
    this.records++;
    if (this.gaps.has(gap.id)) return false;
    this.gaps.set(gap.id, gap);
    return true;
  }
  async get(id: string): Promise<Gap | undefined> {
    return this.gaps.get(id);
  }
  /** Gaps matching the filter, earliest first (as the Firestore ledger lists them). */
  async list(filter: { states?: readonly GapState[]; stream?: StreamKey } = {}): Promise<Gap[]> {
    return [...this.gaps.values()]
      .filter(
        (g) =>
          (!filter.states || filter.states.includes(g.state)) &&
          (!filter.stream || streamId(g.stream) === streamId(filter.stream)),
      )
      .sort((a, b) => a.from - b.from);
  }
  async transition(id: string, expected: GapState, next: Gap): Promise<boolean> {
    if (this.gaps.get(id)?.state !== expected) return false;
    this.gaps.set(id, next);
    return true;
  }
}
