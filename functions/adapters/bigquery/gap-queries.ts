import type { GapQueries, PerStream, TradeIdJump } from '../../core/ports.ts';
import { streamId, type StreamKey } from '../../core/model/streams.ts';
import type { Interval } from '../../core/shared/intervals.ts';
import type { QueryOptions } from './warehouse.ts';

/** What the gap queries need of the warehouse: a query with a cap on the bytes it may bill. */
export interface CappedQueries {
  query<T>(sql: string, params?: Record<string, unknown>, options?: QueryOptions): Promise<T[]>;
}

/**
 * Coverage is partitioned by day on `window_from`, and a window starts at most this long before the
 * range it overlaps. Relay windows last about a second and detected gaps 15 min; a longer window
 * (a manual or relay-startup gap) that starts earlier is not read, which at worst makes detection
 * record time it covers as a hole again, refetched without loss.
 */
export const COVERAGE_WINDOW_MARGIN_MS = 86_400_000;

/**
 * Trades are partitioned by day on `exchange_ts`, detection selects them by receive time `local_ts`:
 * a trade is assumed to be received within this long of its exchange time. One further away is not
 * read, which at worst shows as a trade-id jump, refetched without loss.
 */
export const TRADE_TIME_MARGIN_MS = 3_600_000;

/**
 * The GapQueries port as two BigQuery queries per run, whatever the number of streams: each reads
 * its base table within partition bounds and cluster filters, dedupes as the `*_dedup` view would,
 * and is split back per stream here.
 */
export class BigQueryGapQueries implements GapQueries {
  constructor(
    private readonly warehouse: CappedQueries,
    private readonly projectId: string,
    private readonly dataset: string,
    /** maximumBytesBilled of each query: BigQuery refuses one that would bill more. */
    private readonly maxBytesBilled?: number,
  ) {}

  async coverageWindows(streams: readonly StreamKey[], range: Interval): Promise<PerStream<Interval>> {
    // Copies of a batch's coverage row carry the same window: DISTINCT collapses them as coverage_dedup.
    const rows = await this.query<StreamRow & { f: number; t: number }>(
      `SELECT DISTINCT exchange, symbol, data_type, UNIX_MILLIS(window_from) AS f, UNIX_MILLIS(window_to) AS t ` +
        `FROM ${this.table('coverage')} ` +
        `WHERE window_from >= @scan_from AND window_from < @horizon ` +
        `AND exchange IN UNNEST(@exchanges) AND symbol IN UNNEST(@symbols) AND data_type IN UNNEST(@types) ` +
        `AND window_to > @start ORDER BY exchange, symbol, data_type, f, t`,
      {
        ...clusterParams(streams),
        types: [...new Set(streams.map((s) => s.type))],
        scan_from: new Date(range.from - COVERAGE_WINDOW_MARGIN_MS),
        start: new Date(range.from),
        horizon: new Date(range.to),
      },
    );
    return splitByStream(streams, rows, (r) => ({ from: Number(r.f), to: Number(r.t) }));
  }

  async tradeIdJumps(streams: readonly StreamKey[], range: Interval): Promise<PerStream<TradeIdJump>> {
    // Deduped before the receive-time filter, as trades_dedup is: every copy of a trade has its exchange time.
    const rows = await this.query<StreamRow & { pf: number; pt: number }>(
      `SELECT exchange, symbol, 'trade' AS data_type, UNIX_MILLIS(prev_ts) AS pf, UNIX_MILLIS(ts) AS pt FROM (` +
        `SELECT exchange, symbol, id, ts, ` +
        `LAG(id) OVER (PARTITION BY exchange, symbol ORDER BY id) AS prev_id, ` +
        `LAG(ts) OVER (PARTITION BY exchange, symbol ORDER BY id) AS prev_ts FROM (` +
        `SELECT exchange, symbol, CAST(trade_id AS INT64) AS id, local_ts AS ts FROM ${this.table('trades')} ` +
        `WHERE exchange_ts >= @scan_from AND exchange_ts < @scan_to ` +
        `AND exchange IN UNNEST(@exchanges) AND symbol IN UNNEST(@symbols) ` +
        `QUALIFY ROW_NUMBER() OVER (PARTITION BY row_id ORDER BY ingested_at) = 1` +
        `) WHERE ts >= @start AND ts < @horizon` +
        `) WHERE id - prev_id > 1 ORDER BY exchange, symbol, pt`,
      {
        ...clusterParams(streams),
        scan_from: new Date(range.from - TRADE_TIME_MARGIN_MS),
        scan_to: new Date(range.to + TRADE_TIME_MARGIN_MS),
        start: new Date(range.from),
        horizon: new Date(range.to),
      },
    );
    return splitByStream(streams, rows, (r) => ({ before: Number(r.pf), after: Number(r.pt) }));
  }

  private query<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
    const options = this.maxBytesBilled === undefined ? {} : { maximumBytesBilled: this.maxBytesBilled };
    return this.warehouse.query<T>(sql, params, options);
  }

  private table(name: string): string {
    return `\`${this.projectId}.${this.dataset}.${name}\``;
  }
}

interface StreamRow {
  exchange: string;
  symbol: string;
  data_type: string;
}

/** Cluster filters for all streams: a superset (every exchange with every symbol), narrowed per stream after. */
function clusterParams(streams: readonly StreamKey[]): { exchanges: string[]; symbols: string[] } {
  return {
    exchanges: [...new Set(streams.map((s) => s.exchange))],
    symbols: [...new Set(streams.map((s) => s.symbol))],
  };
}

/** The rows of the asked streams, each converted, under its stream id; every asked stream has a list. */
function splitByStream<R extends StreamRow, V>(
  streams: readonly StreamKey[],
  rows: readonly R[],
  convert: (row: R) => V,
): Map<string, V[]> {
  const out = new Map<string, V[]>(streams.map((s) => [streamId(s), []]));
  for (const row of rows) {
    const key = streamId({ exchange: row.exchange, symbol: row.symbol, type: row.data_type } as StreamKey);
    out.get(key)?.push(convert(row));
  }
  return out;
}
