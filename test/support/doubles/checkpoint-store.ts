import { mergeCheckpoint } from '../../../functions/core/writer/checkpoint.ts';
import { checkpointDocId, type CheckpointLayout } from '../../../functions/core/writer/checkpoint-groups.ts';
import type { Checkpoint, CheckpointAdvance, CheckpointStore, Clock } from '../../../functions/core/ports.ts';
import { streamId, type StreamKey } from '../../../functions/core/model/streams.ts';

/**
 * A CheckpointStore double: checkpoints in memory, merged by the core's mergeCheckpoint; `writes` counts
 * document writes as the layout groups them.
 */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly docs = new Map<string, Checkpoint>();
  writes = 0;
  constructor(
    private readonly clock: Clock = { now: () => Date.now() },
    private readonly layout: CheckpointLayout = 'per-stream',
  ) {}

  docOf(stream: StreamKey): string {
    return checkpointDocId(stream, this.layout);
  }

  async advanceAll(advances: readonly CheckpointAdvance[]): Promise<Checkpoint[]> {
    if (new Set(advances.map((a) => this.docOf(a.stream))).size !== 1) {
      throw new Error('advances of one write must share one document');
    }
    this.writes++;
    return advances.map((advance) => {
      const key = streamId(advance.stream);
      const merged = mergeCheckpoint(this.docs.get(key), advance, this.clock.now());
      this.docs.set(key, merged);
      return merged;
    });
  }

  async advance(advance: CheckpointAdvance): Promise<Checkpoint> {
    return (await this.advanceAll([advance]))[0]!;
  }

  async get(stream: StreamKey): Promise<Checkpoint | undefined> {
    return this.docs.get(streamId(stream));
  }

  async list(): Promise<Checkpoint[]> {
    return [...this.docs.values()];
  }
}

/**
 * A CheckpointStore over `inner` whose one-stream writes go through `advance` (a test's failing or watched
 * write); a grouped write is those writes one after the other.
 */
export function storeWithAdvance(
  inner: MemoryCheckpointStore,
  advance: (a: CheckpointAdvance) => Promise<Checkpoint>,
): CheckpointStore {
  return {
    docOf: (s) => inner.docOf(s),
    advance,
    advanceAll: async (advances) => {
      const merged: Checkpoint[] = [];
      for (const a of advances) merged.push(await advance(a));
      return merged;
    },
    get: (s) => inner.get(s),
    list: () => inner.list(),
  };
}
