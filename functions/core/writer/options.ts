/** The writer core's options and their defaults, declared once (functions/writer/config.ts reads them). */
import { DEFAULT_VALIDATION, type ValidationLimits } from '../model/validate.ts';

export interface WriterOptions {
  /** Attempts for one insert within a delivery before the delivery is answered 503 (Pub/Sub redelivers). */
  readonly insertAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /**
   * Time budget of one delivery, kept well below the push ack deadline (60 s local, 120 s in the cloud):
   * no insert attempt starts that could end after it; the delivery is answered 503 instead.
   */
  readonly deliveryDeadlineMs: number;
  /** The warehouse adapter's per-request timeout (the budget check needs it). */
  readonly insertTimeoutMs: number;
  /** One insertAll request carries at most this many rows and about this many bytes of JSON. */
  readonly maxRowsPerRequest: number;
  readonly maxBytesPerRequest: number;
  /** insertAll requests in flight per table; beyond it, concurrent deliveries' rows share requests. */
  readonly maxInFlightPerTable: number;
  /** Quarantined payloads longer than this (characters) are stored in consecutive parts. */
  readonly quarantineChunkChars: number;
  readonly validation: ValidationLimits;
}

export const DEFAULT_WRITER_OPTIONS: WriterOptions = Object.freeze({
  insertAttempts: 6,
  retryBaseMs: 100,
  retryMaxMs: 2000,
  deliveryDeadlineMs: 40_000,
  insertTimeoutMs: 10_000,
  maxRowsPerRequest: 5000,
  maxBytesPerRequest: 5 * 1024 * 1024,
  maxInFlightPerTable: 2,
  quarantineChunkChars: 1024 * 1024,
  validation: DEFAULT_VALIDATION,
});

/** Least time between two writes of one stream's checkpoint document (CheckpointCoalescer). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;
