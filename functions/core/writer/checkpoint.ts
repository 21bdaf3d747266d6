import type { Checkpoint, CheckpointAdvance } from '../ports.ts';
import { mergeSpans, unionWindows } from './checkpoint-spans.ts';

/** Where a stream stands: the timestamp and trade id (trades only) of its last stored tick. */
export interface Position {
  readonly ts: number;
  readonly tradeId: string | null;
}

/** Orders two positions; numeric trade ids compare as numbers. */
export function comparePosition(a: Position, b: Position): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.tradeId === b.tradeId) return 0;
  if (a.tradeId === null) return -1;
  if (b.tradeId === null) return 1;
  if (/^\d+$/.test(a.tradeId) && /^\d+$/.test(b.tradeId)) {
    const x = BigInt(a.tradeId);
    const y = BigInt(b.tradeId);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a.tradeId < b.tradeId ? -1 : 1;
}

/**
 * Merges an advance into the stored checkpoint. Monotonic: the position (last tick) and coverage end
 * only ever move forward, whatever order deliveries arrive in; the row count accumulates.
 */
export function mergeCheckpoint(
  existing: Checkpoint | undefined,
  advance: CheckpointAdvance,
  now: number,
): Checkpoint {
  const incoming =
    advance.lastTickTs === null ? null : { ts: advance.lastTickTs, tradeId: advance.lastTradeId };
  const current = existing ? { ts: existing.lastTickTs, tradeId: existing.lastTradeId } : null;
  const moves = incoming !== null && (current === null || comparePosition(incoming, current) > 0);
  const position = moves ? incoming : current;
  return {
    stream: advance.stream,
    lastTickTs: position?.ts ?? 0,
    lastTradeId: position?.tradeId ?? null,
    committedRows: (existing?.committedRows ?? 0) + advance.rows,
    coveredTo: Math.max(existing?.coveredTo ?? 0, advance.coveredTo),
    lastBatchId: moves || !existing ? advance.batchId : existing.lastBatchId,
    updatedAt: now,
    ...withCovered(mergeSpans(existing?.covered, advance.windows, now)),
  };
}

/** Combines two pending advances of one stream into one, keeping the furthest position. */
export function combineAdvances(a: CheckpointAdvance, b: CheckpointAdvance): CheckpointAdvance {
  const aPos = a.lastTickTs === null ? null : { ts: a.lastTickTs, tradeId: a.lastTradeId };
  const bPos = b.lastTickTs === null ? null : { ts: b.lastTickTs, tradeId: b.lastTradeId };
  const bWins = bPos !== null && (aPos === null || comparePosition(bPos, aPos) > 0);
  const winner = bWins ? b : a;
  return {
    stream: a.stream,
    lastTickTs: winner.lastTickTs,
    lastTradeId: winner.lastTradeId,
    rows: a.rows + b.rows,
    coveredTo: Math.max(a.coveredTo, b.coveredTo),
    batchId: winner.batchId,
    ...withWindows(unionWindows(a.windows, b.windows)),
  };
}

// Optional fields stay absent rather than undefined (exactOptionalPropertyTypes, Firestore documents).
const withCovered = (covered: Checkpoint['covered']) => (covered ? { covered } : {});
const withWindows = (windows: CheckpointAdvance['windows']) => (windows ? { windows } : {});
