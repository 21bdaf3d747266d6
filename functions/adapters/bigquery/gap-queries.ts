import type { GapQueries, TradeIdJump, Warehouse } from '../../core/ports.ts';
import type { StreamKey } from '../../core/model/streams.ts';
import type { Interval } from '../../core/shared/intervals.ts';

/** The GapQueries port as BigQuery SQL over the dataset's dedup views. */
export class BigQueryGapQueries implements GapQueries {
  constructor(
    private readonly warehouse: Pick<Warehouse, 'query'>,
    private readonly projectId: string,
    private readonly dataset: string,
  ) {}

  async coverageWindows(stream: StreamKey, start: number, horizon: number): Promise<Interval[]> {
    const params = { exchange: stream.exchange, symbol: stream.symbol, type: stream.type };
    const coverage = await this.warehouse.query<{ f: number; t: number }>(
      `SELECT UNIX_MILLIS(window_from) AS f, UNIX_MILLIS(window_to) AS t FROM ${this.table('coverage_dedup')} ` +
        `WHERE exchange = @exchange AND symbol = @symbol AND data_type = @type ` +
        `AND window_to > @start AND window_from < @horizon ORDER BY f`,
      { ...params, start: new Date(start), horizon: new Date(horizon) },
    );
    return coverage.map((c) => ({ from: Number(c.f), to: Number(c.t) }));
  }

  async tradeIdJumps(stream: StreamKey, start: number, horizon: number): Promise<TradeIdJump[]> {
    const jumps = await this.warehouse.query<{ pf: number; pt: number }>(
      `SELECT UNIX_MILLIS(prev_ts) AS pf, UNIX_MILLIS(ts) AS pt FROM (` +
        `SELECT CAST(trade_id AS INT64) AS id, local_ts AS ts, ` +
        `LAG(CAST(trade_id AS INT64)) OVER (ORDER BY CAST(trade_id AS INT64)) AS prev_id, ` +
        `LAG(local_ts) OVER (ORDER BY CAST(trade_id AS INT64)) AS prev_ts ` +
        `FROM ${this.table('trades_dedup')} WHERE exchange = @exchange AND symbol = @symbol ` +
        `AND local_ts >= @start AND local_ts < @horizon) WHERE id - prev_id > 1`,
      {
        exchange: stream.exchange,
        symbol: stream.symbol,
        start: new Date(start),
        horizon: new Date(horizon),
      },
    );
    return jumps.map((j) => ({ before: Number(j.pf), after: Number(j.pt) }));
  }

  private table(name: string): string {
    return `\`${this.projectId}.${this.dataset}.${name}\``;
  }
}
