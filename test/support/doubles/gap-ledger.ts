import type { Gap, GapState } from '../../../functions/core/gapfill/gaps.ts';
import { streamId, type StreamKey } from '../../../functions/core/model/streams.ts';
import type { GapLedger } from '../../../functions/core/ports.ts';

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
  async list(filter: { states?: readonly GapState[]; stream?: StreamKey } = {}): Promise<Gap[]> {
    return [...this.gaps.values()].filter(
      (g) =>
        (!filter.states || filter.states.includes(g.state)) &&
        (!filter.stream || streamId(g.stream) === streamId(filter.stream)),
    );
  }
  async transition(): Promise<boolean> {
    return false;
  }
}
