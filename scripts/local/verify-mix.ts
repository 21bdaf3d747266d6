// Compares a whole local run (every exchange and data type of its mix) with the simulator's ground
// truth: one comparison per exchange and type, added up into the totals `npm start` and the chaos runs
// report and judge.
import type { Stack } from './stack.ts';
import { tickSource, type IdRange } from './exchange/ground-truth.ts';
import type { SimulatedExchange } from './exchange/protocols.ts';
import { KIND_OF_TYPE, mixStreams } from './stream-mix.ts';
import type { DataType, StreamKey } from '../../functions/core/model/streams.ts';
import { compareStreamType, type TypeComparison } from './verify-type.ts';
import type { TradeComparison } from './verify.ts';

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

/** The run's totals over every exchange and type (same meanings as compareTrades'), and each one's counts. */
export interface MixComparison extends Omit<TradeComparison, 'perSymbol'> {
  readonly perStreamType: readonly StreamTypeCounts[];
}

/** One stream of the run and the ground-truth ids (index + 1) it must hold; null: nothing was sent. */
export interface ExpectedStream extends StreamKey {
  readonly range: IdRange | null;
}

/**
 * Reads, per stream of the stack's mix, the ids the simulator has sent so far. With the gap-filler in the
 * pipeline everything between the first and the last id sent is expected.
 */
export function sentSoFar(stack: Stack): ExpectedStream[] {
  return mixStreams(stack.streams).map((key) => {
    const ranges = sentIds(stack, key);
    return {
      ...key,
      range: ranges.length === 0 ? null : { firstId: ranges[0]!.firstId, lastId: ranges.at(-1)!.lastId },
    };
  });
}

function sentIds(stack: Stack, key: StreamKey): IdRange[] {
  return stack.simulator.sentIds(key.symbol, KIND_OF_TYPE[key.type], key.exchange as SimulatedExchange);
}

/** Exchange times (ms) of the first and the last tick the run expects on a stream; null: none sent. */
export function expectedSpanTs(stack: Stack, stream: ExpectedStream): { from: number; to: number } | null {
  if (stream.range === null) return null;
  const truth = stack.simulator.groundTruth(stream.symbol, stream.exchange as SimulatedExchange);
  const source = tickSource(KIND_OF_TYPE[stream.type], truth);
  return {
    from: source.timestampOf(stream.range.firstId - 1),
    to: source.timestampOf(stream.range.lastId - 1),
  };
}

/** Compares every exchange and type of `expected` with the dedup views. */
export async function compareMix(stack: Stack, expected: readonly ExpectedStream[]): Promise<MixComparison> {
  const groups = new Map<string, ExpectedStream[]>();
  for (const s of expected)
    groups.set(`${s.exchange}:${s.type}`, [...(groups.get(`${s.exchange}:${s.type}`) ?? []), s]);
  const per: TypeComparison[] = [];
  for (const streams of groups.values()) per.push(await compareStreamType(stack, streams));
  const total = (key: keyof Omit<TypeComparison, 'exchange' | 'type'>) => per.reduce((n, c) => n + c[key], 0);
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
