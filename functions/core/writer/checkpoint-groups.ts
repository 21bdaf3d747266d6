import { streamId, type StreamKey } from '../model/streams.ts';
import type { Checkpoint } from '../ports.ts';
import { mergeCheckpoint } from './checkpoint.ts';
import { unionSpans } from './checkpoint-spans.ts';

/**
 * Where checkpoints are written (decisions/0026). `grouped`: one document per exchange, type and one of
 * GROUP_BUCKETS buckets of symbols, holding a map of its streams' positions, so writes per second follow
 * the number of groups, not of streams. `per-stream`: one document per stream (the layout before v4).
 * Readers read both and take the furthest, so either layout can be deployed over the other.
 */
export type CheckpointLayout = 'grouped' | 'per-stream';

/** Buckets per exchange and type: bounds a group document (about 150 bytes per stream, 1 MiB per document). */
export const GROUP_BUCKETS = 4;

/** The id of the group document holding `stream`'s position: `group:binance:trade:2`. */
export function groupDocId(stream: StreamKey): string {
  return `group:${stream.exchange}:${stream.type}:${bucketOf(stream.symbol)}`;
}

/** The document a layout writes `stream`'s checkpoint to; advances of one document are written together. */
export function checkpointDocId(stream: StreamKey, layout: CheckpointLayout): string {
  return layout === 'grouped' ? groupDocId(stream) : streamId(stream);
}

/**
 * One stream's checkpoint read from both layouts: the furthest position and coverage end; rows add up,
 * since each delivery's rows were counted in the one document its writer wrote.
 */
export function furthestCheckpoint(
  a: Checkpoint | undefined,
  b: Checkpoint | undefined,
): Checkpoint | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  // b as an advance merged into a: mergeCheckpoint's monotonic rules are exactly "the furthest of both".
  const advance = {
    stream: b.stream,
    lastTickTs: b.lastTickTs,
    lastTradeId: b.lastTradeId,
    rows: b.committedRows,
    coveredTo: b.coveredTo,
    batchId: b.lastBatchId,
  };
  const furthest = mergeCheckpoint(a, advance, Math.max(a.updatedAt, b.updatedAt));
  const covered = unionSpans(a.covered, b.covered);
  return covered ? { ...furthest, covered } : furthest;
}

/** FNV-1a of the symbol: stable across processes and versions, unlike any runtime hash. */
function bucketOf(symbol: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < symbol.length; i++) {
    hash ^= symbol.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % GROUP_BUCKETS;
}
