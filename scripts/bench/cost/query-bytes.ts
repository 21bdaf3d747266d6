// Bytes processed per gap-filler run at the reference deployment, by the BigQuery stand-in's model
// (scripts/local/bigquery/bytes-processed.ts) over a history bed: a year of day partitions of
// `coverage` and `trades` with a few representative rows each. The model is linear in the rows of the
// partitions a query reads, so each table's scanned bytes are scaled by (reference rows per day) / (bed
// rows per day), then BigQuery's 10 MiB minimum per table applies. The bed's rows belong to the streams
// the counted queries ask for: at the reference the gap-filler asks for every stream, so its cluster
// filters select every row of a partition (bed rows of other streams would be pruned and bill nothing).
import { createBigQueryClient } from '../../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../../functions/adapters/bigquery/tables.ts';
import { MIN_BYTES_PER_TABLE, scannedBytes } from '../../local/bigquery/bytes-processed.ts';
import type { QueryParameter } from '../../local/bigquery/query-params.ts';
import { startBigQueryStandin, type BigQueryStandin } from '../../local/bigquery/server.ts';

const DAY_MS = 86_400_000;
const BED_PROJECT = 'cost-bed';
const BED_DATASET = 'tickstream_bed';

/** A query as BigQuery receives it (REST parameters). */
export interface QueryText {
  readonly sql: string;
  readonly params: readonly QueryParameter[];
}

export interface HistoryBed {
  readonly now: number;
  readonly rowsPerDay: number;
  /** Bytes processed by `query` if each table held `rowsPerDay[table]` rows in every day partition. */
  referenceBytes(query: QueryText, rowsPerDay: Readonly<Record<string, number>>): Promise<number>;
  stop(): Promise<void>;
}

/** The streams the bed's rows belong to: those the counted gap-filler run asks for. */
export interface BedStreams {
  readonly exchange: string;
  readonly symbols: readonly string[];
  /** Coverage rows cycle through them (trades are trades). */
  readonly types: readonly string[];
}

/**
 * Loads `days` day partitions ending today (and tomorrow's, for runs near midnight) with `rowsPerDay`
 * rows of coverage and of trades each, spread over `streams`.
 */
export async function startHistoryBed(
  days: number,
  rowsPerDay: number,
  streams: BedStreams,
  now = Date.now(),
): Promise<HistoryBed> {
  const standin: BigQueryStandin = await startBigQueryStandin({ projectId: BED_PROJECT });
  try {
    const bq = createBigQueryClient(BED_PROJECT, standin.url);
    await ensureWarehouse(bq, BED_PROJECT, BED_DATASET);
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const rows = { coverage: [] as Record<string, unknown>[], trades: [] as Record<string, unknown>[] };
    for (let day = -1; day < days; day++) dayRows(rows, today - day * DAY_MS, rowsPerDay, day, streams);
    for (const [table, list] of Object.entries(rows)) {
      for (let i = 0; i < list.length; i += 5000) {
        const chunk = list.slice(i, i + 5000).map((json) => ({ json }));
        await bq.dataset(BED_DATASET).table(table).insert(chunk, { raw: true });
      }
    }
  } catch (error) {
    await standin.stop();
    throw error;
  }
  return {
    now,
    rowsPerDay,
    async referenceBytes(query, reference) {
      const sql = query.sql.replace(/`[^`.]+\.[^`.]+\.(\w+)`/g, `\`${BED_PROJECT}.${BED_DATASET}.$1\``);
      const scanned = await scannedBytes(standin.warehouse, sql, query.params, BED_DATASET);
      let total = 0;
      for (const [key, bytes] of scanned) {
        const table = key.split('.').pop()!;
        if (bytes === 0) throw new Error(`cost bench: a query selects no bed row of ${table}: ${query.sql}`);
        const scale = (reference[table] ?? rowsPerDay) / rowsPerDay;
        total += Math.max(MIN_BYTES_PER_TABLE, bytes * scale);
      }
      return total;
    },
    stop: () => standin.stop(),
  };
}

/** One day of rows with production-shaped values (ids, relay ids, batch ids as the deployables write them). */
function dayRows(
  into: { coverage: Record<string, unknown>[]; trades: Record<string, unknown>[] },
  dayStart: number,
  rows: number,
  day: number,
  streams: BedStreams,
): void {
  const step = DAY_MS / rows;
  const { coverage, trades } = into;
  const { exchange, symbols, types } = streams;
  for (let k = 0; k < rows; k++) {
    const from = dayStart + k * step;
    const symbol = symbols[k % symbols.length]!;
    const type = types[Math.floor(k / symbols.length) % types.length]!;
    const seq = (day + 1) * rows + k;
    const batchId = `relay-1a2b3c4d/${exchange}:${symbol}:${type}/${seq}`;
    coverage.push({
      batch_id: batchId,
      exchange,
      symbol,
      data_type: type,
      window_from: new Date(from).toISOString(),
      window_to: new Date(from + 100).toISOString(),
      rows: 40,
      source: 'live',
      relay_id: 'relay-1a2b3c4d',
      committed_at: new Date(from + 300).toISOString(),
    });
    const tradeId = 4_000_000_000 + seq;
    trades.push({
      row_id: `${exchange}:${symbol}:t:${tradeId}`,
      exchange,
      symbol,
      trade_id: String(tradeId),
      price: 97_123.45,
      amount: 0.0123,
      side: 'buy',
      exchange_ts: new Date(from + 40).toISOString(),
      local_ts: new Date(from + 45).toISOString(),
      ingested_at: new Date(from + 300).toISOString(),
      source: 'live',
      relay_id: 'relay-1a2b3c4d',
      batch_id: batchId,
    });
  }
}

const text = (name: string, value: string): QueryParameter => ({
  name,
  parameterType: { type: 'STRING' },
  parameterValue: { value },
});
const timestamp = (name: string, ms: number): QueryParameter => ({
  name,
  parameterType: { type: 'TIMESTAMP' },
  parameterValue: { value: new Date(ms).toISOString() },
});

/**
 * The queries the gap-filler sent per stream and run before bae46bd (its `BigQueryGapQueries`, verbatim
 * from `git show bae46bd^:functions/adapters/bigquery/gap-queries.ts`): coverage windows of every stream
 * and trade-id jumps of every trade stream, each through a dedup view.
 */
export function perStreamViewQueries(
  stream: { exchange: string; symbol: string; type: string },
  start: number,
  horizon: number,
): QueryText[] {
  const view = (name: string) => `\`${BED_PROJECT}.${BED_DATASET}.${name}\``;
  const coverage: QueryText = {
    sql:
      `SELECT UNIX_MILLIS(window_from) AS f, UNIX_MILLIS(window_to) AS t FROM ${view('coverage_dedup')} ` +
      `WHERE exchange = @exchange AND symbol = @symbol AND data_type = @type ` +
      `AND window_to > @start AND window_from < @horizon ORDER BY f`,
    params: [
      text('exchange', stream.exchange),
      text('symbol', stream.symbol),
      text('type', stream.type),
      timestamp('start', start),
      timestamp('horizon', horizon),
    ],
  };
  if (stream.type !== 'trade') return [coverage];
  const trades: QueryText = {
    sql:
      `SELECT UNIX_MILLIS(prev_ts) AS pf, UNIX_MILLIS(ts) AS pt FROM (` +
      `SELECT CAST(trade_id AS INT64) AS id, local_ts AS ts, ` +
      `LAG(CAST(trade_id AS INT64)) OVER (ORDER BY CAST(trade_id AS INT64)) AS prev_id, ` +
      `LAG(local_ts) OVER (ORDER BY CAST(trade_id AS INT64)) AS prev_ts ` +
      `FROM ${view('trades_dedup')} WHERE exchange = @exchange AND symbol = @symbol ` +
      `AND local_ts >= @start AND local_ts < @horizon) WHERE id - prev_id > 1`,
    params: [
      text('exchange', stream.exchange),
      text('symbol', stream.symbol),
      timestamp('start', start),
      timestamp('horizon', horizon),
    ],
  };
  return [coverage, trades];
}
