import type { Firestore } from '@google-cloud/firestore';
import { mergeCheckpoint } from '../../core/writer/checkpoint.ts';
import type { Checkpoint, CheckpointAdvance, CheckpointStore, Clock } from '../../core/ports.ts';
import { isDataType, streamId, type StreamKey } from '../../core/model/streams.ts';

/** Firestore document shape of a checkpoint (collection `checkpoints`, document id = stream id). */
interface CheckpointDoc {
  exchange: string;
  symbol: string;
  type: string;
  lastTickTs: number;
  lastTradeId: string | null;
  committedRows: number;
  coveredTo: number;
  lastBatchId: string;
  updatedAt: number;
}

/** The CheckpointStore port on Firestore; every advance is a transaction so it stays monotonic. */
export class FirestoreCheckpointStore implements CheckpointStore {
  constructor(
    private readonly db: Firestore,
    private readonly collection: string,
    private readonly clock: Clock,
  ) {}

  advance(advance: CheckpointAdvance): Promise<Checkpoint> {
    const ref = this.db.collection(this.collection).doc(streamId(advance.stream));
    return this.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      const existing = snap.exists ? fromDoc(snap.data() as CheckpointDoc) : undefined;
      const merged = mergeCheckpoint(existing, advance, this.clock.now());
      tx.set(ref, toDoc(merged));
      return merged;
    });
  }

  async get(stream: StreamKey): Promise<Checkpoint | undefined> {
    const snap = await this.db.collection(this.collection).doc(streamId(stream)).get();
    return snap.exists ? fromDoc(snap.data() as CheckpointDoc) : undefined;
  }

  async list(): Promise<Checkpoint[]> {
    const snap = await this.db.collection(this.collection).get();
    return snap.docs.map((doc) => fromDoc(doc.data() as CheckpointDoc));
  }
}

function toDoc(c: Checkpoint): CheckpointDoc {
  return {
    exchange: c.stream.exchange,
    symbol: c.stream.symbol,
    type: c.stream.type,
    lastTickTs: c.lastTickTs,
    lastTradeId: c.lastTradeId,
    committedRows: c.committedRows,
    coveredTo: c.coveredTo,
    lastBatchId: c.lastBatchId,
    updatedAt: c.updatedAt,
  };
}

function fromDoc(d: CheckpointDoc): Checkpoint {
  if (!isDataType(d.type)) throw new Error(`checkpoint document has unknown type ${d.type}`);
  return {
    stream: { exchange: d.exchange, symbol: d.symbol, type: d.type },
    lastTickTs: d.lastTickTs,
    lastTradeId: d.lastTradeId,
    committedRows: d.committedRows,
    coveredTo: d.coveredTo,
    lastBatchId: d.lastBatchId,
    updatedAt: d.updatedAt,
  };
}
