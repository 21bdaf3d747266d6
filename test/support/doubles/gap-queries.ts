import type { GapQueries, PerStream, TradeIdJump } from '../../../functions/core/ports.ts';
import { streamId, type StreamKey } from '../../../functions/core/model/streams.ts';
import type { Interval } from '../../../functions/core/shared/intervals.ts';

/** A GapQueries double: committed coverage and trades in memory, read as the dedup views would be. */
export class MemoryGapQueries implements GapQueries {
  private readonly windows = new Map<string, Interval[]>();
  /** Per stream: trade id -> receive time (ms); one entry per id, as in `trades_dedup`. */
  private readonly trades = new Map<string, Map<number, number>>();

  addCoverage(stream: StreamKey, from: number, to: number): void {
    const list = this.windows.get(streamId(stream)) ?? [];
    list.push({ from, to });
    this.windows.set(streamId(stream), list);
  }

  addTrade(stream: StreamKey, tradeId: number, receivedAtMs: number): void {
    const byId = this.trades.get(streamId(stream)) ?? new Map<number, number>();
    if (!byId.has(tradeId)) byId.set(tradeId, receivedAtMs);
    this.trades.set(streamId(stream), byId);
  }

  async coverageWindows(streams: readonly StreamKey[], range: Interval): Promise<PerStream<Interval>> {
    return new Map(streams.map((stream) => [streamId(stream), this.windowsOf(stream, range)]));
  }

  async tradeIdJumps(streams: readonly StreamKey[], range: Interval): Promise<PerStream<TradeIdJump>> {
    return new Map(streams.map((stream) => [streamId(stream), this.jumpsOf(stream, range)]));
  }

  private windowsOf(stream: StreamKey, range: Interval): Interval[] {
    return (this.windows.get(streamId(stream)) ?? [])
      .filter((w) => w.to > range.from && w.from < range.to)
      .sort((a, b) => a.from - b.from)
      .map((w) => ({ ...w }));
  }

  private jumpsOf(stream: StreamKey, range: Interval): TradeIdJump[] {
    const inRange = [...(this.trades.get(streamId(stream)) ?? new Map<number, number>())]
      .filter(([, at]) => at >= range.from && at < range.to)
      .sort(([a], [b]) => a - b);
    const jumps: TradeIdJump[] = [];
    for (let k = 1; k < inRange.length; k++) {
      const [prevId, prevAt] = inRange[k - 1]!;
      const [id, at] = inRange[k]!;
      if (id - prevId > 1) jumps.push({ before: prevAt, after: at });
    }
    return jumps;
  }
}
