import type { EncodedMessage } from './contract/batch.ts';
import type { Gap, GapState } from './gapfill/gaps.ts';
import type { RelayCounters } from './relay/counters.ts';
import type { StreamKey } from './model/streams.ts';
import type { Micros, Tick } from './model/tick.ts';
import type { TableName } from './contract/schema.ts';
import type { Interval } from './shared/intervals.ts';
import type { CoveredSpans } from './writer/checkpoint-spans.ts';

// ---- Every deployable -------------------------------------------------------------------------

/** Wall-clock time in milliseconds; injected so tests can drive time. */
export interface Clock {
  now(): number;
}

/** The production Clock: Date.now(). */
export const systemClock: Clock = { now: () => Date.now() };

/** Cloud Logging severities, lowest first. */
export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** Structured logging: one JSON object per line with severity, message and domain fields. */
export interface Logger {
  log(severity: Severity, message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

// ---- Relay --------------------------------------------------------------------------------------

/** What a live exchange feed delivers: ticks, and disconnects that end coverage. */
export type FeedEvent =
  | { readonly kind: 'tick'; readonly tick: Tick }
  | {
      readonly kind: 'disconnect';
      readonly exchange: string;
      /** Symbols affected, or undefined for all of the exchange's symbols. */
      readonly symbols: readonly string[] | undefined;
      /** Receive time (ms) of the last message the lost connection delivered. */
      readonly at: number;
    };

/**
 * A live source of normalized ticks for a set of streams (tardis-dev in production).
 *
 * `run` hands every event to `sink` synchronously, in the order each exchange connection received it,
 * and never buffers a received event across a timer turn: whenever other code runs, every message
 * stamped with a receive time so far has been delivered. The relay's coverage claims rest on that.
 * It resolves when `signal` aborts and rejects when the feed cannot continue (e.g. FeedRejectedError).
 */
export interface TickFeed {
  run(sink: (event: FeedEvent) => void, signal: AbortSignal): Promise<void>;
}

/** Publishes encoded batches; resolves with the message id once the broker has it. */
export interface TickPublisher {
  publish(message: EncodedMessage): Promise<string>;
  /** Sends everything buffered and releases the connection. Safe to call twice. */
  close(): Promise<void>;
}

/** The liveness record one relay instance keeps in Firestore (`relay_heartbeats/<relayId>`). */
export interface RelayHeartbeat {
  readonly relayId: string;
  /** Cloud Run revision and host, when known. */
  readonly revision: string | null;
  readonly host: string | null;
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly ready: boolean;
  readonly healthy: boolean;
  readonly lastPublishAt: number | null;
  readonly streams: readonly {
    readonly stream: string;
    readonly covering: boolean;
    readonly coveredTo: number | null;
    readonly lastTickAt: number | null;
    readonly coverageLagMs: number;
  }[];
  readonly counters: RelayCounters;
}

/** Stores relay heartbeats; `expireAt` (ms) is for the collection's TTL policy. */
export interface HeartbeatStore {
  write(heartbeat: RelayHeartbeat, expireAt: number): Promise<void>;
}

// ---- Writer (the warehouse and checkpoints are shared with the gap-filler and the relay) ---------

/** Whether a push request may be processed; 401 (no or bad token), 403 (wrong identity) or 503 otherwise. */
export type AuthDecision =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 401 | 403 | 503; readonly reason: string };

/** Verifies the OIDC token Pub/Sub attaches to a push request (`Authorization: Bearer`) for its configured audience. */
export interface PushAuthenticator {
  authenticate(authorization: string | undefined): Promise<AuthDecision>;
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
  /** Recently committed coverage (absent in checkpoints written before decisions/0029). */
  readonly covered?: CoveredSpans;
}

/** An advance of a checkpoint; merged monotonically with what is stored. */
export interface CheckpointAdvance {
  readonly stream: StreamKey;
  readonly lastTickTs: Micros | null;
  readonly lastTradeId: string | null;
  readonly rows: number;
  readonly coveredTo: number;
  readonly batchId: string;
  /** Coverage windows committed with it, merged into the checkpoint's `covered` spans. */
  readonly windows?: readonly Interval[];
}

/** Durable per-stream checkpoints (Firestore), stored one per stream or grouped (checkpoint-groups.ts). */
export interface CheckpointStore {
  /** The document `stream`'s checkpoint is written to: advances sharing one are written together. */
  docOf(stream: StreamKey): string;
  /** Merges advances of streams sharing one document, monotonically, in one write. */
  advanceAll(advances: readonly CheckpointAdvance[]): Promise<Checkpoint[]>;
  advance(advance: CheckpointAdvance): Promise<Checkpoint>;
  /** One stream's checkpoint, the furthest of every layout's document. */
  get(stream: StreamKey): Promise<Checkpoint | undefined>;
  list(): Promise<Checkpoint[]>;
}

// ---- Gap-filler (the relay records startup gaps in the ledger too) ------------------------------

/** Historical market data (Tardis.dev): every tick of a stream whose receive time lies in [from, to). */
export interface HistorySource {
  ticks(stream: StreamKey, from: number, to: number, signal: AbortSignal): AsyncIterable<Tick>;
}

/** The durable gap ledger (Firestore); the gap-filler mirrors it into BigQuery's `gaps` table. */
export interface GapLedger {
  /** Records a gap unless one with the same id exists; returns whether it was new. */
  record(gap: Gap): Promise<boolean>;
  get(id: string): Promise<Gap | undefined>;
  list(filter?: { states?: readonly GapState[]; stream?: StreamKey }): Promise<Gap[]>;
  /** Writes `next` only if the stored gap is still in `expected` state (compare-and-set); returns success. */
  transition(id: string, expected: GapState, next: Gap): Promise<boolean>;
}

/** A named, expiring, exclusive lease (Firestore in production), so overlapping runs never work together. */
export interface LeaseStore {
  /** Takes the lease if it is free, expired or already ours; returns whether we hold it now. */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if we still hold it. */
  release(name: string, holder: string): Promise<void>;
}

/** A jump in contiguous trade ids: receive times (ms) of the last trade before it and the first after. */
export interface TradeIdJump {
  readonly before: number;
  readonly after: number;
}

/** What a gap query found, per stream id (`streamId`); every stream asked for has a list. */
export type PerStream<T> = ReadonlyMap<string, T[]>;

/**
 * What the gap-filler's detection reads of the streams' committed data received in `range` (ms), for all
 * streams at once: one query each per run, however many streams.
 */
export interface GapQueries {
  /** Per stream, the committed coverage windows overlapping the range, ordered by start. */
  coverageWindows(streams: readonly StreamKey[], range: Interval): Promise<PerStream<Interval>>;
  /** Per stream, the jumps in its trade ids among its trades received in the range. */
  tradeIdJumps(streams: readonly StreamKey[], range: Interval): Promise<PerStream<TradeIdJump>>;
}
