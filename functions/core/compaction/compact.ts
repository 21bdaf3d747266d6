/**
 * One compaction run (decisions/0028): per compacted table, read the boundary its dedup view publishes,
 * merge the planned days into `<table>_settled` oldest first, then publish the new boundary. Every step
 * is idempotent and the view moves only after its days are merged, so a run that fails or never comes
 * leaves the view exact: it reads a longer tail, at a higher cost.
 */
import { TABLES, type TableSchema } from '../contract/schema.ts';
import type { Clock, Logger } from '../ports.ts';
import { dayStart, fillsSince, planCompaction, type CompactionOptions } from './plan.ts';

/** The tables whose dedup views are compacted (`settled` in TABLES). */
export function compactedTables(): string[] {
  return (Object.values(TABLES) as TableSchema[]).filter((t) => t.settled).map((t) => t.name);
}

/** The warehouse as the compactor sees it (the BigQuery adapter implements it). */
export interface SettledWarehouse {
  /** The boundary `<table>_dedup` publishes, or undefined when nothing is compacted yet. */
  settledBefore(table: string): Promise<number | undefined>;
  /** The earliest time in the base table, or undefined when it is empty. */
  firstTime(table: string): Promise<number | undefined>;
  /** Start times of the table's gaps marked filled at or after `since`. */
  filledGapStarts(table: string, since: number): Promise<number[]>;
  /** Replaces the compacted partition of one day; the rows it holds afterwards. */
  compactDay(table: string, dayStart: number): Promise<{ rows: number }>;
  /** Points `<table>_dedup` at the compacted days before `settledBefore`. */
  publish(table: string, settledBefore: number): Promise<void>;
}

export interface TableCompaction {
  readonly table: string;
  readonly days: readonly string[];
  readonly rows: number;
  readonly settledBefore: string | null;
  readonly previous: string | null;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export async function compactTable(
  table: string,
  warehouse: SettledWarehouse,
  clock: Clock,
  options: CompactionOptions,
  logger: Logger,
): Promise<TableCompaction> {
  const now = clock.now();
  const settledBefore = await warehouse.settledBefore(table);
  const firstTime = settledBefore === undefined ? await warehouse.firstTime(table) : undefined;
  const filledGapStarts =
    settledBefore === undefined
      ? []
      : await warehouse.filledGapStarts(table, fillsSince(now, settledBefore, options));
  const plan = planCompaction(
    {
      now,
      settledBefore,
      firstDay: firstTime === undefined ? undefined : dayStart(firstTime),
      filledGapStarts,
    },
    options,
  );
  let rows = 0;
  for (const start of plan.days) {
    const merged = await warehouse.compactDay(table, start);
    rows += merged.rows;
    logger.log('DEBUG', 'compacted day merged', { table, day: day(start), rows: merged.rows });
  }
  if (plan.settledBefore !== undefined && plan.settledBefore !== settledBefore) {
    await warehouse.publish(table, plan.settledBefore);
  }
  return {
    table,
    days: plan.days.map(day),
    rows,
    settledBefore: plan.settledBefore === undefined ? null : new Date(plan.settledBefore).toISOString(),
    previous: settledBefore === undefined ? null : new Date(settledBefore).toISOString(),
  };
}

/** Compacts every table in turn; a table that fails does not stop the others, and the run reports it. */
export async function runCompaction(
  tables: readonly string[],
  warehouse: SettledWarehouse,
  clock: Clock,
  options: CompactionOptions,
  logger: Logger,
): Promise<{ tables: TableCompaction[]; failed: { table: string; error: string }[] }> {
  const done: TableCompaction[] = [];
  const failed: { table: string; error: string }[] = [];
  for (const table of tables) {
    try {
      const result = await compactTable(table, warehouse, clock, options, logger);
      logger.log('INFO', 'table compacted', { ...result });
      done.push(result);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // The view keeps its previous boundary: still exact, reading a longer tail until a run succeeds.
      logger.log('ERROR', 'table compaction failed', { table, error: message });
      failed.push({ table, error: message });
    }
  }
  return { tables: done, failed };
}
