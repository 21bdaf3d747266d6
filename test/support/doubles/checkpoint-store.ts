import { mergeCheckpoint } from '../../../functions/core/writer/checkpoint.ts';
import type { Checkpoint, CheckpointAdvance, CheckpointStore, Clock } from '../../../functions/core/ports.ts';
import { streamId, type StreamKey } from '../../../functions/core/model/streams.ts';

/** A CheckpointStore double: checkpoints in memory, merged by the core's mergeCheckpoint. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly docs = new Map<string, Checkpoint>();
  writes = 0;
  constructor(private readonly clock: Clock = { now: () => Date.now() }) {}

  async advance(advance: CheckpointAdvance): Promise<Checkpoint> {
    this.writes++;
    const key = streamId(advance.stream);
    const merged = mergeCheckpoint(this.docs.get(key), advance, this.clock.now());
    this.docs.set(key, merged);
    return merged;
  }

  async get(stream: StreamKey): Promise<Checkpoint | undefined> {
    return this.docs.get(streamId(stream));
  }

  async list(): Promise<Checkpoint[]> {
    return [...this.docs.values()];
  }
}
