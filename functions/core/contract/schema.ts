import type { DataType } from '../model/streams.ts';
import { NOTHING_SETTLED, settledViewSql } from './settled-sql.ts';

/**
 * The single source of the warehouse's table definitions. The BigQuery adapter creates tables from it,
 * the writer shapes rows by it, and infra/ tests check the Terraform schemas against it.
 */
export interface FieldSchema {
  readonly name: string;
  readonly type: 'STRING' | 'INT64' | 'FLOAT64' | 'BOOL' | 'TIMESTAMP' | 'JSON' | 'RECORD';
  readonly mode: 'REQUIRED' | 'NULLABLE' | 'REPEATED';
  readonly description?: string;
  readonly fields?: readonly FieldSchema[];
}

export interface TableSchema {
  readonly name: string;
  readonly description: string;
  readonly fields: readonly FieldSchema[];
  /** Day partitioning column, when the table is partitioned. */
  readonly partitionField?: string;
  readonly clustering?: readonly string[];
  /** Column that identifies a logical row; a `<name>_dedup` view keeps one row per value. */
  readonly dedupKey?: string;
  /** Which copy the dedup view keeps: the earliest ingested (default) or the latest state (ledgers). */
  readonly dedupKeeps?: { readonly order: 'earliest' | 'latest'; readonly by: string };
  /**
   * Columns every copy of one dedup key provably holds equal. The view's window partitions by them, so a
   * filter on them reaches the table below it and prunes partitions and clusters (decisions/0027).
   */
  readonly dedupShares?: readonly string[];
  /**
   * Copies of one id may lie days apart in the partitioning column: settled days are compacted into
   * `<name>_settled` and the dedup view reads them plus the unsettled tail (decisions/0028).
   */
  readonly settled?: { readonly lookaroundDays: number };
}

const req = (name: string, type: FieldSchema['type'], description?: string): FieldSchema => ({
  name,
  type,
  mode: 'REQUIRED',
  ...(description ? { description } : {}),
});
const opt = (name: string, type: FieldSchema['type'], description?: string): FieldSchema => ({
  name,
  type,
  mode: 'NULLABLE',
  ...(description ? { description } : {}),
});

const tickKey = [
  req('row_id', 'STRING', 'Deterministic id of the exchange event (same live and backfilled)'),
  req('exchange', 'STRING'),
  req('symbol', 'STRING'),
];
const tickTimes = [
  req('exchange_ts', 'TIMESTAMP', 'Exchange event time'),
  req('local_ts', 'TIMESTAMP', 'Receive time at the relay or at the Tardis recorder'),
];
const ingestion = [
  req('ingested_at', 'TIMESTAMP', 'When the writer or gap-filler inserted the row'),
  req('source', 'STRING', 'live | backfill'),
  opt('relay_id', 'STRING'),
  req('batch_id', 'STRING'),
];

const priceLevels = (name: string): FieldSchema => ({
  name,
  type: 'RECORD',
  mode: 'REPEATED',
  fields: [req('price', 'FLOAT64'), req('amount', 'FLOAT64')],
});

export const TABLES = {
  trades: {
    name: 'trades',
    description: 'Trades, one row per delivery; use trades_dedup for one row per trade.',
    fields: [
      ...tickKey,
      opt('trade_id', 'STRING'),
      req('price', 'FLOAT64'),
      req('amount', 'FLOAT64'),
      req('side', 'STRING', 'buy | sell | unknown (taker side)'),
      ...tickTimes,
      ...ingestion,
    ],
    partitionField: 'exchange_ts',
    clustering: ['exchange', 'symbol'],
    dedupKey: 'row_id',
    // The id names the stream; a trade id's time is the exchange's trade time, a hashed id hashes it.
    dedupShares: ['exchange', 'symbol', 'exchange_ts'],
  },
  quotes: {
    name: 'quotes',
    description: 'Top of book (book_ticker) updates; use quotes_dedup.',
    fields: [
      ...tickKey,
      opt('bid_price', 'FLOAT64'),
      opt('bid_amount', 'FLOAT64'),
      opt('ask_price', 'FLOAT64'),
      opt('ask_amount', 'FLOAT64'),
      ...tickTimes,
      ...ingestion,
    ],
    partitionField: 'exchange_ts',
    clustering: ['exchange', 'symbol'],
    dedupKey: 'row_id',
    // Not exchange_ts: tardis-dev stamps some quotes on receipt (Binance spot, a state re-sent on subscribe).
    dedupShares: ['exchange', 'symbol'],
    settled: { lookaroundDays: 2 },
  },
  book_changes: {
    name: 'book_changes',
    description: 'Order book deltas (and snapshots); use book_changes_dedup.',
    fields: [
      ...tickKey,
      req('is_snapshot', 'BOOL'),
      priceLevels('bids'),
      priceLevels('asks'),
      ...tickTimes,
      ...ingestion,
    ],
    partitionField: 'exchange_ts',
    clustering: ['exchange', 'symbol'],
    dedupKey: 'row_id',
    // A book change id always hashes exchange_ts.
    dedupShares: ['exchange', 'symbol', 'exchange_ts'],
  },
  derivative_tickers: {
    name: 'derivative_tickers',
    description:
      'Funding, mark, index, open interest and last price of derivatives: the merged state after each ' +
      'exchange message that changed it; use derivative_tickers_dedup.',
    fields: [
      ...tickKey,
      opt('last_price', 'FLOAT64'),
      opt('open_interest', 'FLOAT64'),
      opt('funding_rate', 'FLOAT64'),
      opt('funding_ts', 'TIMESTAMP', 'When the funding rate applies'),
      opt('predicted_funding_rate', 'FLOAT64'),
      opt('index_price', 'FLOAT64'),
      opt('mark_price', 'FLOAT64'),
      ...tickTimes,
      ...ingestion,
    ],
    partitionField: 'exchange_ts',
    clustering: ['exchange', 'symbol'],
    dedupKey: 'row_id',
    // Not exchange_ts: the merged state's time differs live and in a replay (decisions/0024).
    dedupShares: ['exchange', 'symbol'],
    settled: { lookaroundDays: 2 },
  },
  liquidations: {
    name: 'liquidations',
    description: 'Forced liquidation orders; use liquidations_dedup.',
    fields: [
      ...tickKey,
      opt('liquidation_id', 'STRING', "The exchange's id of the liquidation order, when it sends one"),
      req('price', 'FLOAT64'),
      req('amount', 'FLOAT64'),
      req('side', 'STRING', 'buy | sell | unknown (side of the liquidation order)'),
      ...tickTimes,
      ...ingestion,
    ],
    partitionField: 'exchange_ts',
    clustering: ['exchange', 'symbol'],
    dedupKey: 'row_id',
    // An order id's time is the exchange's, a hashed id hashes it.
    dedupShares: ['exchange', 'symbol', 'exchange_ts'],
  },
  coverage: {
    name: 'coverage',
    description: 'Committed coverage windows: the stream was listened to during [window_from, window_to).',
    fields: [
      req('batch_id', 'STRING'),
      req('exchange', 'STRING'),
      req('symbol', 'STRING'),
      req('data_type', 'STRING'),
      req('window_from', 'TIMESTAMP'),
      req('window_to', 'TIMESTAMP'),
      req('rows', 'INT64'),
      req('source', 'STRING', 'live | backfill'),
      opt('relay_id', 'STRING'),
      req('committed_at', 'TIMESTAMP'),
    ],
    partitionField: 'window_from',
    clustering: ['exchange', 'symbol', 'data_type'],
    dedupKey: 'batch_id',
    // A batch id names its stream; its window is the message's (live) or the gap's (backfill).
    dedupShares: ['exchange', 'symbol', 'data_type', 'window_from'],
  },
  quarantine: {
    name: 'quarantine',
    description: 'Input that could not be stored as ticks, kept verbatim with the reason.',
    fields: [
      req('quarantine_id', 'STRING'),
      req('reason', 'STRING'),
      opt('detail', 'STRING'),
      opt('message_id', 'STRING'),
      opt('batch_id', 'STRING'),
      opt('exchange', 'STRING'),
      opt('symbol', 'STRING'),
      opt('data_type', 'STRING'),
      req('payload', 'STRING', 'The undecodable message or tick, verbatim (base64 for binary data)'),
      req('received_at', 'TIMESTAMP'),
    ],
    partitionField: 'received_at',
    dedupKey: 'quarantine_id',
  },
  gaps: {
    name: 'gaps',
    description: 'Mirror of the gap ledger: one row per gap state change; gaps_dedup holds the latest state.',
    fields: [
      req('gap_id', 'STRING', 'Deterministic id of the hole (stream and interval)'),
      req('exchange', 'STRING'),
      req('symbol', 'STRING'),
      req('data_type', 'STRING'),
      req('gap_from', 'TIMESTAMP', 'Start of the uncovered interval (inclusive)'),
      req('gap_to', 'TIMESTAMP', 'End of the uncovered interval (exclusive)'),
      req('detected_by', 'STRING', 'coverage | trade_ids | stale_checkpoint | relay_startup | manual'),
      req('state', 'STRING', 'open | filling | filled | failed | unfillable'),
      req('attempts', 'INT64'),
      opt('rows_backfilled', 'INT64'),
      opt('reason', 'STRING'),
      req('updated_at', 'TIMESTAMP'),
      opt(
        'fillable_at',
        'TIMESTAMP',
        'When the gap became fillable: gap_to + max(settle, availability delay)',
      ),
      opt('filled_at', 'TIMESTAMP', 'When the gap was filled (state filled)'),
    ],
    partitionField: 'gap_from',
    clustering: ['exchange', 'symbol', 'data_type'],
    dedupKey: 'gap_id',
    dedupKeeps: { order: 'latest', by: 'updated_at' },
    // The gap id hashes the stream and the interval.
    dedupShares: ['exchange', 'symbol', 'data_type', 'gap_from'],
  },
} as const satisfies Record<string, TableSchema>;

export type TableName = keyof typeof TABLES;

/** The tick tables, one per data type. */
export type TickTableName = 'trades' | 'quotes' | 'book_changes' | 'derivative_tickers' | 'liquidations';

export const TABLE_FOR_TYPE: Record<DataType, TickTableName> = {
  trade: 'trades',
  book_ticker: 'quotes',
  book_change: 'book_changes',
  derivative_ticker: 'derivative_tickers',
  liquidation: 'liquidations',
};

/** Name of the dedup view of a table. */
export function dedupViewName(table: TableName): string {
  return `${table}_dedup`;
}

/**
 * The dedup view's SQL: one row per logical id (the earliest ingested copy, or the latest state), the
 * window partitioned by the columns every copy shares and then the id. A table with `settled` gets the
 * compacted form, with nothing settled until the compactor publishes its boundary (`settledBefore`).
 */
export function dedupViewSql(
  projectId: string,
  dataset: string,
  table: TableSchema,
  settledBefore = NOTHING_SETTLED,
): string {
  if (!table.dedupKey) throw new Error(`table ${table.name} has no dedup key`);
  if (table.settled) return settledViewSql(projectId, dataset, table, settledBefore);
  const order = table.dedupKeeps
    ? `${table.dedupKeeps.by}${table.dedupKeeps.order === 'latest' ? ' DESC' : ''}`
    : table.fields.some((f) => f.name === 'ingested_at')
      ? 'ingested_at'
      : table.dedupKey;
  return (
    `SELECT * FROM \`${projectId}.${dataset}.${table.name}\` WHERE TRUE ` +
    `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${[...(table.dedupShares ?? []), table.dedupKey].join(', ')} ` +
    `ORDER BY ${order}) = 1`
  );
}
