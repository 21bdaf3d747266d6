import type { Clock, RowFailure, WarehouseRow } from '../ports.ts';
import { backoffMs, sleep as realSleep } from './retry.ts';
import type { TableName } from '../contract/schema.ts';
import { isTooLarge } from './warehouse-error.ts';
import { errorMessage } from './errors.ts';

/** The rows could not be made durable now; the caller must retry later (the writer answers 503). */
export class TransientInsertError extends Error {
  override readonly name = 'TransientInsertError';
}

/**
 * Where insert requests go: the Warehouse itself (the gap-filler), or the writer's group-commit
 * combiner in front of it. `bytes` is the rows' estimated JSON size (the combiner packs requests by it).
 */
export interface InsertSink {
  insert(table: TableName, rows: readonly WarehouseRow[], bytes: number): Promise<RowFailure[]>;
}

export interface DurableInsertOptions {
  /** Requests per group of rows (first try included) before TransientInsertError. */
  readonly attempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** One request carries at most this many rows and about this many bytes (by `sizes`). */
  readonly maxRowsPerRequest: number;
  readonly maxBytesPerRequest: number;
  /**
   * Epoch ms: no request starts that could end after it, given `requestTimeoutMs` (the sink's enforced
   * per-request timeout). Infinity for none.
   */
  readonly deadline: number;
  readonly requestTimeoutMs: number;
  readonly clock: Clock;
  /** Waits between retries; injected so tests can drive time. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called before each retry with the number of rows sent again, for counters. */
  readonly onRetry?: (rows: number) => void;
}

/** A row the warehouse refused for good: its index in the rows given, and why. */
export interface RefusedRow {
  readonly index: number;
  readonly why: string;
}

/**
 * The one insert loop of the writer and the gap-filler: inserts rows, chunked to the request limits,
 * until each one is stored or permanently refused. Whole-request failures and retryable row failures
 * are retried (only the failed rows) with jittered exponential backoff, within `attempts` and the
 * deadline; a request refused as too large is split in halves (a single row too large is refused).
 * Resolves with the refused rows; throws TransientInsertError when rows are still failing transiently.
 */
export async function insertDurably(
  sink: InsertSink,
  table: TableName,
  rows: readonly WarehouseRow[],
  sizes: readonly number[] | undefined,
  options: DurableInsertOptions,
): Promise<RefusedRow[]> {
  if (rows.length === 0) return [];
  const sizeOf = (i: number) => sizes?.[i] ?? 0;
  const refused: RefusedRow[] = [];
  const chunks: number[][] = [];
  let chunk: number[] = [];
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    if (
      chunk.length > 0 &&
      (chunk.length >= options.maxRowsPerRequest || bytes + sizeOf(i) > options.maxBytesPerRequest)
    ) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(i);
    bytes += sizeOf(i);
  }
  chunks.push(chunk);
  const group = (indexes: readonly number[]) =>
    insertGroup(sink, table, rows, sizeOf, indexes, options, refused);
  if (chunks.length === 1) {
    await group(chunk);
    return refused;
  }
  const settled = await Promise.allSettled(chunks.map(group));
  for (const result of settled) if (result.status === 'rejected') throw result.reason;
  return refused;
}

async function insertGroup(
  sink: InsertSink,
  table: TableName,
  rows: readonly WarehouseRow[],
  sizeOf: (i: number) => number,
  group: readonly number[],
  options: DurableInsertOptions,
  refused: RefusedRow[],
): Promise<void> {
  const { clock } = options;
  const sleep = options.sleep ?? realSleep;
  let todo = group;
  let lastError = 'no attempt';
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) {
      if (attempt >= options.attempts) {
        throw new TransientInsertError(
          `${todo.length} rows into ${table} not stored after ${attempt} attempts: ${lastError}`,
        );
      }
      const wait = backoffMs(attempt - 1, options.retryBaseMs, options.retryMaxMs);
      if (clock.now() + wait + options.requestTimeoutMs > options.deadline) {
        throw new TransientInsertError(
          `${todo.length} rows into ${table} not stored within the deadline: ${lastError}`,
        );
      }
      options.onRetry?.(todo.length);
      await sleep(wait);
    } else if (clock.now() + options.requestTimeoutMs > options.deadline) {
      throw new TransientInsertError(`no time left before the deadline to insert into ${table}`);
    }
    let failures;
    try {
      let bytes = 0;
      for (const i of todo) bytes += sizeOf(i);
      failures = await sink.insert(
        table,
        todo.map((i) => rows[i]!),
        bytes,
      );
    } catch (error) {
      if (isTooLarge(error)) {
        if (todo.length === 1) {
          refused.push({ index: todo[0]!, why: `request too large: ${errorMessage(error)}` });
          return;
        }
        const half = Math.ceil(todo.length / 2);
        await insertGroup(sink, table, rows, sizeOf, todo.slice(0, half), options, refused);
        await insertGroup(sink, table, rows, sizeOf, todo.slice(half), options, refused);
        return;
      }
      lastError = errorMessage(error);
      continue;
    }
    const retry: number[] = [];
    for (const failure of failures) {
      const i = todo[failure.index];
      if (i === undefined) continue;
      if (failure.retryable) retry.push(i);
      else refused.push({ index: i, why: `${failure.reason}: ${failure.message}` });
    }
    if (retry.length === 0) return;
    lastError = `${retry.length} rows failed (${failures.find((f) => f.retryable)?.reason ?? ''})`;
    todo = retry;
  }
}
