import { streamId, type StreamKey } from '../model/streams.ts';
import type { CheckpointStore, GapQueries, PerStream, TradeIdJump } from '../ports.ts';
import type { Interval } from '../shared/intervals.ts';
import { spansWithin } from '../writer/checkpoint-spans.ts';

/**
 * Detection's reads from the checkpoints the writers keep after each commit (decisions/0029): committed
 * coverage spans instead of the warehouse's `coverage` day partitions, so a run reads the checkpoint
 * documents (O(groups)) and no BigQuery byte. Trade-id jumps are not read here: the relay checks ids in
 * order and records each jump in the ledger itself (core/relay/trade-id-check.ts).
 */
export class CheckpointGapQueries implements GapQueries {
  constructor(private readonly checkpoints: CheckpointStore) {}

  async coverageWindows(streams: readonly StreamKey[], range: Interval): Promise<PerStream<Interval>> {
    const byStream = new Map((await this.checkpoints.list()).map((c) => [streamId(c.stream), c]));
    return new Map(streams.map((s) => [streamId(s), spansWithin(byStream.get(streamId(s))?.covered, range)]));
  }

  tradeIdJumps(streams: readonly StreamKey[]): Promise<PerStream<TradeIdJump>> {
    return Promise.resolve(new Map(streams.map((s) => [streamId(s), []])));
  }
}
