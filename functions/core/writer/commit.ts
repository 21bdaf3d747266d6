/**
 * The writer's commit step: a plan's inserts (group-committed, retried within the delivery deadline),
 * then its coverage row, then its checkpoint.
 */
import type { CheckpointCoalescer } from './checkpoint-coalescer.ts';
import {
  insertDurably as insertRows,
  TransientInsertError,
  type RefusedRow,
} from '../shared/durable-insert.ts';
import { InsertCombiner } from './insert-combiner.ts';
import type { Batch } from '../contract/batch.ts';
import type { Clock, Warehouse, WarehouseRow } from '../ports.ts';
import type { PushEnvelope } from '../contract/push-envelope.ts';
import { coverageRow } from '../contract/rows.ts';
import type { TableName } from '../contract/schema.ts';
import type { WriterOptions } from './options.ts';
import type { BatchPlan, PoisonPlan } from './plan.ts';
import { quarantineRows, refusedEntries, tickQuarantineKey, type QuarantineEntry } from './quarantine.ts';
import type { LatencyWindow, WriterCounters } from './stats.ts';

export interface CommitDeps {
  readonly warehouse: Warehouse;
  readonly checkpoints: CheckpointCoalescer;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  readonly options: WriterOptions;
  /** Updated as rows and requests go out. */
  readonly counters: WriterCounters;
  readonly latency: LatencyWindow;
}

/** What a committed batch stored. */
export interface Committed {
  /** Tick rows stored. */
  readonly rows: number;
  /** Ticks quarantined: invalid or undecodable, or refused by the warehouse. */
  readonly quarantined: number;
  /** The quarantined ticks by reason (`invalid_tick`, `undecodable_tick`, `rejected_by_warehouse`). */
  readonly quarantinedBy: Readonly<Record<string, number>>;
}

/**
 * The writer's I/O: makes a plan durable, or throws (TransientInsertError, or whatever the warehouse
 * threw) so the delivery is answered 503 and redelivered. Order: the batch's rows and quarantined ticks,
 * then its coverage row, then the checkpoint. Every insert uses the row id as insertId, so redeliveries
 * are harmless.
 */
export class CommitStep {
  private readonly sink: InsertCombiner;

  constructor(private readonly deps: CommitDeps) {
    const { options, counters, latency } = deps;
    this.sink = new InsertCombiner(
      deps.warehouse,
      {
        // Coverage and quarantine rows are tiny and one per delivery: under load they ride together.
        maxInFlight: (table) =>
          table === 'coverage' || table === 'quarantine' ? 1 : options.maxInFlightPerTable,
        maxRows: options.maxRowsPerRequest,
        maxBytes: options.maxBytesPerRequest,
      },
      (report) => {
        counters.insertRequests++;
        if (!report.ok) counters.insertRequestErrors++;
        latency.record(report.ms);
      },
    );
  }

  /** Keeps a poison message (or one section of a bundle) whole in quarantine. */
  async poison(
    envelope: PushEnvelope,
    plan: PoisonPlan,
    deadline: number,
    counted: 'quarantinedMessages' | 'quarantinedSections' = 'quarantinedMessages',
  ): Promise<void> {
    await this.quarantine(envelope, plan.batch, [plan.entry], deadline);
    this.deps.counters[counted]++;
  }

  /** Stores a batch's rows and quarantines its bad ticks, then commits its coverage and checkpoint. */
  async batch(envelope: PushEnvelope, plan: BatchPlan, deadline: number): Promise<Committed> {
    const { batch, id, table, rows, sizes, raw, data, bad, last } = plan;
    const { clock, counters } = this.deps;
    // The rows and the already known poison ticks are independent; both must be durable before coverage.
    const [refused] =
      bad.length === 0
        ? [await this.insertDurably(table, rows, sizes, deadline)]
        : await Promise.all([
            this.insertDurably(table, rows, sizes, deadline),
            this.quarantine(envelope, batch, bad, deadline),
          ]);
    const rejected =
      refused.length > 0 ? refusedEntries(tickQuarantineKey(id, data), rows, raw, refused) : [];
    await this.quarantine(envelope, batch, rejected, deadline);

    // Coverage only after the rows it vouches for are durable: a crash in between re-sends both.
    const coverage = await this.insertDurably(
      'coverage',
      [{ insertId: id, json: coverageRow(batch, id, 'live', clock.now()) }],
      [512 + id.length],
      deadline,
    );
    if (coverage.length > 0) throw new TransientInsertError(`coverage row refused: ${coverage[0]?.why}`);

    const stored = rows.length - refused.length;
    this.deps.checkpoints.submit({
      stream: batch.stream,
      lastTickTs: last?.ts ?? null,
      lastTradeId: last?.tradeId ?? null,
      rows: stored,
      coveredTo: batch.window.to,
      batchId: id,
      windows: [batch.window],
    });
    counters.rowsWritten += stored;
    counters.committed++;
    return {
      rows: stored,
      quarantined: bad.length + refused.length,
      quarantinedBy: countByReason([...bad, ...rejected]),
    };
  }

  private async quarantine(
    envelope: PushEnvelope,
    batch: Batch | undefined,
    entries: readonly QuarantineEntry[],
    deadline: number,
  ): Promise<void> {
    if (entries.length === 0) return;
    const { clock, options, counters } = this.deps;
    const { rows, sizes } = quarantineRows(
      envelope,
      batch,
      entries,
      clock.now(),
      options.quarantineChunkChars,
    );
    const refused = await this.insertDurably('quarantine', rows, sizes, deadline);
    if (refused.length > 0) {
      // The quarantine table refusing a row is a bug in this code, not in the input: retry, never drop.
      throw new TransientInsertError(`quarantine refused ${refused.length} rows: ${refused[0]?.why}`);
    }
    counters.quarantinedRows += entries.length;
  }

  /** Inserts rows through the shared durable-insert loop; resolves with the rows refused for good. */
  private insertDurably(
    table: TableName,
    rows: readonly WarehouseRow[],
    sizes: readonly number[],
    deadline: number,
  ): Promise<RefusedRow[]> {
    const { options, counters } = this.deps;
    return insertRows(this.sink, table, rows, sizes, {
      attempts: options.insertAttempts,
      retryBaseMs: options.retryBaseMs,
      retryMaxMs: options.retryMaxMs,
      maxRowsPerRequest: options.maxRowsPerRequest,
      maxBytesPerRequest: options.maxBytesPerRequest,
      deadline,
      requestTimeoutMs: options.insertTimeoutMs,
      clock: this.deps.clock,
      sleep: this.deps.sleep,
      onRetry: (n) => {
        counters.insertRetries++;
        counters.rowsRetried += n;
      },
    });
  }
}

function countByReason(entries: readonly QuarantineEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of entries) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}
