/**
 * The writer's commit step: a delivery's inserts (group-committed, retried within the delivery deadline),
 * then its coverage rows, then its checkpoints.
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

  /**
   * Stores the batches of one delivery (a bundle's sections) together: each table's rows in one insert,
   * then every batch's coverage row in one insert, then their checkpoints. So a delivery costs two insert
   * requests in sequence however many sections it carries. Throws when any part is not durable (the whole
   * delivery is redelivered; row ids and batch ids make what was stored collapse).
   */
  async batches(envelope: PushEnvelope, plans: readonly BatchPlan[], deadline: number): Promise<Committed[]> {
    const { clock, counters } = this.deps;
    // The rows and the already known poison ticks are independent; both must be durable before coverage.
    const [refused] = await Promise.all([
      this.insertTables(plans, deadline),
      Promise.all(plans.map((p) => this.quarantine(envelope, p.batch, p.bad, deadline))),
    ]);
    const rejected = plans.map(({ id, data, rows, raw }, k) =>
      refused[k]!.length > 0 ? refusedEntries(tickQuarantineKey(id, data), rows, raw, refused[k]!) : [],
    );
    await Promise.all(plans.map((p, k) => this.quarantine(envelope, p.batch, rejected[k]!, deadline)));

    // Coverage only after the rows it vouches for are durable: a crash in between re-sends both.
    const now = clock.now();
    const coverage = await this.insertDurably(
      'coverage',
      plans.map(({ batch, id }) => ({ insertId: id, json: coverageRow(batch, id, 'live', now) })),
      plans.map(({ id }) => 512 + id.length),
      deadline,
    );
    if (coverage.length > 0) throw new TransientInsertError(`coverage row refused: ${coverage[0]?.why}`);

    return plans.map(({ batch, id, rows, bad, last }, k) => {
      const stored = rows.length - refused[k]!.length;
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
        quarantined: bad.length + refused[k]!.length,
        quarantinedBy: countByReason([...bad, ...rejected[k]!]),
      };
    });
  }

  /** Inserts the plans' rows, one insert per table; resolves with each plan's refused rows. */
  private async insertTables(plans: readonly BatchPlan[], deadline: number): Promise<RefusedRow[][]> {
    const refused: RefusedRow[][] = plans.map(() => []);
    const tables = new Map<TableName, number[]>();
    plans.forEach((p, k) => {
      if (p.rows.length === 0) return;
      let members = tables.get(p.table);
      if (!members) tables.set(p.table, (members = []));
      members.push(k);
    });
    await Promise.all(
      [...tables].map(async ([table, members]) => {
        const one = members.length === 1 ? plans[members[0]!]! : undefined;
        const rows = one ? one.rows : members.flatMap((k) => plans[k]!.rows);
        const sizes = one ? one.sizes : members.flatMap((k) => plans[k]!.sizes);
        const failed = await this.insertDurably(table, rows, sizes, deadline);
        // Back to each plan's own row indexes.
        const ends: number[] = [];
        for (const k of members) ends.push((ends.at(-1) ?? 0) + plans[k]!.rows.length);
        for (const { index, why } of failed) {
          const m = ends.findIndex((end) => index < end);
          refused[members[m]!]!.push({ index: index - (m === 0 ? 0 : ends[m - 1]!), why });
        }
      }),
    );
    return refused;
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
