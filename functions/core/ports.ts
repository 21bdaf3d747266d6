import type { EncodedMessage, Window } from './contract/message.ts';
import type { StreamKey } from './model/streams.ts';
import type { Micros } from './model/tick.ts';
import type { TableName } from './contract/schema.ts';

/** Wall-clock time in milliseconds; injected so tests can drive time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** Structured logging: one JSON object per line with severity, message and domain fields. */
export interface Logger {
  log(severity: Severity, message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Publishes encoded batches; resolves with the message id once the broker has it. */
export interface TickPublisher {
  publish(message: EncodedMessage): Promise<string>;
  /** Sends everything buffered and releases the connection. Safe to call twice. */
  close(): Promise<void>;
}

/** A row for insertAll: the insert id (for best-effort dedup) and the JSON row. */
export interface WarehouseRow {
  readonly insertId: string;
  readonly json: Record<string, unknown>;
}

/** Why a row was not inserted; `retryable` rows may succeed when sent again. */
export interface RowFailure {
  readonly index: number;
  readonly reason: string;
  readonly message: string;
  readonly retryable: boolean;
}

/** The analytical store (BigQuery): streaming inserts and queries. */
export interface Warehouse {
  /**
   * Inserts rows; resolves with the rows that were not inserted (empty when all were).
   * Rejects when the request as a whole failed (network, 5xx), in which case nothing is known inserted.
   */
  insert(table: TableName, rows: readonly WarehouseRow[]): Promise<RowFailure[]>;
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
}

/** The per-stream progress record the writer advances after rows are durable. */
export interface Checkpoint {
  readonly stream: StreamKey;
  /** Exchange time of the newest committed tick. */
  readonly lastTickTs: Micros;
  readonly lastTradeId: string | null;
  /** Rows accepted by the writer for this stream (at-least-once: redeliveries count again). */
  readonly committedRows: number;
  /** End of the newest committed coverage window (relay ms). */
  readonly coveredTo: number;
  readonly lastBatchId: string;
  readonly updatedAt: number;
}

/** An advance of a checkpoint; merged monotonically with what is stored. */
export interface CheckpointAdvance {
  readonly stream: StreamKey;
  readonly lastTickTs: Micros | null;
  readonly lastTradeId: string | null;
  readonly rows: number;
  readonly coveredTo: number;
  readonly batchId: string;
}

/** Durable per-stream checkpoints (Firestore). */
export interface CheckpointStore {
  advance(advance: CheckpointAdvance): Promise<Checkpoint>;
  get(stream: StreamKey): Promise<Checkpoint | undefined>;
  list(): Promise<Checkpoint[]>;
}

export type { Window };

// The gap-filler's detection queries (appended here; its import belongs at the top of this file).
import type { Interval } from './shared/intervals.ts';

/** A jump in contiguous trade ids: receive times (ms) of the last trade before it and the first after. */
export interface TradeIdJump {
  readonly before: number;
  readonly after: number;
}

/** What the gap-filler's detection reads of one stream's committed data received in [start, horizon) (ms). */
export interface GapQueries {
  /** The committed coverage windows overlapping the range, ordered by start. */
  coverageWindows(stream: StreamKey, start: number, horizon: number): Promise<Interval[]>;
  /** The jumps in the stream's trade ids among its trades in the range. */
  tradeIdJumps(stream: StreamKey, start: number, horizon: number): Promise<TradeIdJump[]>;
}
