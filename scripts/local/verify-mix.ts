// Compares a whole local run (every exchange and data type of its mix) with the simulator's ground
// truth: one comparison per exchange and type, added up into the totals `npm start` and the chaos runs
// report and judge.
import type { Stack } from './stack.ts';
import type { IdRange } from './exchange/ground-truth.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import { compareTrades, type TradeComparison } from './verify.ts';

/** The counts of one exchange and data type (`per_stream_type` in the summaries). */
export interface StreamTypeCounts {
  readonly exchange: string;
  readonly type: DataType;
  /** Ticks the ground truth expects: every one between the first and the last the simulator sent. */
  readonly sent: number;
  /** Distinct expected ticks present in the dedup view. */
  readonly stored: number;
  readonly missing: number;
  /** Rows in the dedup view beyond one per row id (must be 0). */
  readonly duplicates: number;
}

export interface MixComparison {
  readonly sent: number;
  readonly stored: number;
  readonly missing: number;
  readonly duplicates: number;
  /** Extra copies in the raw tables (redeliveries that insertId dedup did not catch). */
  readonly rawDuplicates: number;
  /** Rows outside the expected ranges (backfilled ones are expected after the ground truth froze). */
  readonly unexpected: number;
  /** Live rows outside the expected ranges: the relay invented them (must be 0). */
  readonly unexpectedLive: number;
  readonly perStreamType: readonly StreamTypeCounts[];
}

/** Per exchange, type and symbol: the ranges of ground-truth ids (index + 1) the run must hold. */
export type MixExpectation = Readonly<
  Record<string, Readonly<Partial<Record<DataType, Readonly<Record<string, readonly IdRange[]>>>>>>
>;

/** Freezes nothing: reads, per stream of the stack's mix, the ids the simulator has sent so far. */
export function sentSoFar(stack: Stack): MixExpectation {
  const out: Record<string, Partial<Record<DataType, Record<string, IdRange[]>>>> = {};
  for (const m of stack.streams) {
    const byType: Partial<Record<DataType, Record<string, IdRange[]>>> = {};
    for (const type of m.types) {
      byType[type] = Object.fromEntries(
        m.symbols.map((symbol) => [symbol, span(sentIds(stack, m.exchange, symbol, type))]),
      );
    }
    out[m.exchange] = byType;
  }
  return out;
}

function sentIds(stack: Stack, exchange: string, symbol: string, type: DataType): IdRange[] {
  switch (type) {
    case 'trade':
      return stack.simulator.sentTrades(symbol, exchange as 'binance');
    default:
      throw new Error(`no ground-truth comparison for ${type} yet`);
  }
}

/** With the gap-filler in the pipeline, everything between the first and the last id sent is expected. */
function span(ranges: readonly IdRange[]): IdRange[] {
  return ranges.length === 0 ? [] : [{ firstId: ranges[0]!.firstId, lastId: ranges.at(-1)!.lastId }];
}

/** Compares every exchange and type of `expected` with the dedup views. */
export async function compareMix(stack: Stack, expected: MixExpectation): Promise<MixComparison> {
  const per: (StreamTypeCounts & Omit<TradeComparison, 'perSymbol'>)[] = [];
  for (const [exchange, byType] of Object.entries(expected)) {
    for (const [type, bySymbol] of Object.entries(byType) as [DataType, Record<string, IdRange[]>][]) {
      const c = await compareTrades(
        stack.warehouse,
        stack.projectId,
        stack.topology.dataset,
        exchange,
        bySymbol,
      );
      per.push({ exchange, type, ...c });
    }
  }
  const total = (
    key: 'sent' | 'stored' | 'missing' | 'duplicates' | 'rawDuplicates' | 'unexpected' | 'unexpectedLive',
  ) => per.reduce((n, c) => n + c[key], 0);
  return {
    sent: total('sent'),
    stored: total('stored'),
    missing: total('missing'),
    duplicates: total('duplicates'),
    rawDuplicates: total('rawDuplicates'),
    unexpected: total('unexpected'),
    unexpectedLive: total('unexpectedLive'),
    perStreamType: per.map(({ exchange, type, sent, stored, missing, duplicates }) => ({
      exchange,
      type,
      sent,
      stored,
      missing,
      duplicates,
    })),
  };
}
