// The status page's two BigQuery queries: committed coverage merged into intervals per stream and
// source, and quarantine counts by reason. Both read base tables within partition bounds, as the
// gap-filler's detection does (docs/COST.md), and return a bounded number of rows.
import type { CappedQueries } from '../../../functions/adapters/bigquery/gap-queries.ts';
import { COVERAGE_WINDOW_MARGIN_MS } from '../../../functions/adapters/bigquery/gap-queries.ts';
import type { StreamKey } from '../../../functions/core/model/streams.ts';
import type { Interval } from '../../../functions/core/shared/intervals.ts';

/** Coverage intervals read at most: a page never holds more, whatever happened in the range. */
export const MAX_COVERAGE_INTERVALS = 5000;
/** Quarantine (stream, reason) groups read at most. */
export const MAX_QUARANTINE_GROUPS = 500;

export type CoverageSource = 'live' | 'backfill';

/** Consecutive committed windows of one stream and source, merged where they touch or overlap. */
export interface CoverageInterval {
  readonly stream: string;
  readonly source: CoverageSource;
  readonly from: number;
  readonly to: number;
  /** Committed windows merged into it (redelivered copies of a batch count once). */
  readonly windows: number;
}

export interface QuarantineGroup {
  /** `exchange:symbol:type`, or null when the message named no stream it could be filed under. */
  readonly stream: string | null;
  readonly reason: string;
  readonly count: number;
  readonly lastAt: number;
}

export interface Bounded<T> {
  readonly rows: T[];
  /** True when the cap was reached: older rows exist and were not read. */
  readonly truncated: boolean;
}

export class StatusQueries {
  constructor(
    private readonly warehouse: CappedQueries,
    private readonly projectId: string,
    private readonly dataset: string,
    private readonly maxBytesBilled: number,
  ) {}

  /**
   * Coverage in `range`, merged per stream and source: windows tile time, so a run of them is one
   * interval and a hole between two is where the next interval starts. The newest intervals are kept
   * when there are more than MAX_COVERAGE_INTERVALS.
   */
  async coverage(streams: readonly StreamKey[], range: Interval): Promise<Bounded<CoverageInterval>> {
    const by = 'exchange, symbol, data_type, source';
    const rows = await this.query<{
      exchange: string;
      symbol: string;
      data_type: string;
      source: string;
      f: number;
      t: number;
      n: number;
    }>(
      `WITH w AS (SELECT DISTINCT ${by}, batch_id, UNIX_MILLIS(window_from) AS f, UNIX_MILLIS(window_to) AS t ` +
        `FROM ${this.table('coverage')} ` +
        `WHERE window_from >= @scan_from AND window_from < @horizon AND window_to > @start ` +
        `AND exchange IN UNNEST(@exchanges) AND symbol IN UNNEST(@symbols) AND data_type IN UNNEST(@types)), ` +
        `p AS (SELECT *, MAX(t) OVER (PARTITION BY ${by} ORDER BY f, t ` +
        `ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach FROM w), ` +
        `i AS (SELECT *, SUM(CASE WHEN reach IS NULL OR f > reach THEN 1 ELSE 0 END) ` +
        `OVER (PARTITION BY ${by} ORDER BY f, t ROWS UNBOUNDED PRECEDING) AS island FROM p) ` +
        `SELECT ${by}, MIN(f) AS f, MAX(t) AS t, COUNT(*) AS n FROM i GROUP BY ${by}, island ` +
        `ORDER BY t DESC LIMIT ${MAX_COVERAGE_INTERVALS + 1}`,
      {
        exchanges: unique(streams.map((s) => s.exchange)),
        symbols: unique(streams.map((s) => s.symbol)),
        types: unique(streams.map((s) => s.type)),
        scan_from: new Date(range.from - COVERAGE_WINDOW_MARGIN_MS),
        start: new Date(range.from),
        horizon: new Date(range.to),
      },
    );
    const wanted = new Set(streams.map((s) => `${s.exchange}:${s.symbol}:${s.type}`));
    const intervals = rows
      .slice(0, MAX_COVERAGE_INTERVALS)
      .map((r) => ({
        stream: `${r.exchange}:${r.symbol}:${r.data_type}`,
        source: r.source === 'backfill' ? ('backfill' as const) : ('live' as const),
        from: Number(r.f),
        to: Number(r.t),
        windows: Number(r.n),
      }))
      .filter((r) => wanted.has(r.stream));
    return { rows: intervals, truncated: rows.length > MAX_COVERAGE_INTERVALS };
  }

  /** Quarantined messages and ticks received in `range`, counted once per quarantine id. */
  async quarantine(range: Interval): Promise<Bounded<QuarantineGroup>> {
    const rows = await this.query<{
      exchange: string | null;
      symbol: string | null;
      data_type: string | null;
      reason: string;
      n: number;
      last: number;
    }>(
      `SELECT exchange, symbol, data_type, reason, COUNT(DISTINCT quarantine_id) AS n, ` +
        `UNIX_MILLIS(MAX(received_at)) AS last FROM ${this.table('quarantine')} ` +
        `WHERE received_at >= @start AND received_at < @horizon ` +
        `GROUP BY exchange, symbol, data_type, reason ORDER BY n DESC, reason LIMIT ${MAX_QUARANTINE_GROUPS + 1}`,
      { start: new Date(range.from), horizon: new Date(range.to) },
    );
    return {
      rows: rows.slice(0, MAX_QUARANTINE_GROUPS).map((r) => ({
        stream: r.exchange && r.symbol && r.data_type ? `${r.exchange}:${r.symbol}:${r.data_type}` : null,
        reason: String(r.reason),
        count: Number(r.n),
        lastAt: Number(r.last),
      })),
      truncated: rows.length > MAX_QUARANTINE_GROUPS,
    };
  }

  private query<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
    return this.warehouse.query<T>(sql, params, { maximumBytesBilled: this.maxBytesBilled });
  }

  private table(name: string): string {
    return `\`${this.projectId}.${this.dataset}.${name}\``;
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
