import type { DocumentReference, DocumentSnapshot, Firestore, Timestamp } from '@google-cloud/firestore';
import { mergeCheckpoint } from '../../core/writer/checkpoint.ts';
import {
  checkpointDocId,
  furthestCheckpoint,
  groupDocId,
  type CheckpointLayout,
} from '../../core/writer/checkpoint-groups.ts';
import type { Checkpoint, CheckpointAdvance, CheckpointStore, Clock } from '../../core/ports.ts';
import type { CoveredSpans } from '../../core/writer/checkpoint-spans.ts';
import type { Interval } from '../../core/shared/intervals.ts';
import { isDataType, streamId, type DataType, type StreamKey } from '../../core/model/streams.ts';

/** A group document's version (Firestore's update time) and content, as this instance last saw them. */
interface KnownGroup {
  updateTime: Timestamp;
  streams: Record<string, PositionDoc>;
}

const MAX_KNOWN_GROUPS = 10_000;
const MAX_GROUP_WRITE_ATTEMPTS = 5;

/** gRPC codes of a conditional write that lost to another writer: NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION. */
function isWriteConflict(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 5 || code === 6 || code === 9;
}

/** One stream's position, as stored (a per-stream document adds the stream's fields). */
interface PositionDoc {
  lastTickTs: number;
  lastTradeId: string | null;
  committedRows: number;
  coveredTo: number;
  lastBatchId: string;
  updatedAt: number;
  /** Committed coverage spans (decisions/0029): Firestore arrays cannot nest, so `spans` is [from, to, from, to, ...]. */
  covered?: { since: number; spans: number[] };
}

/** A per-stream document (collection `checkpoints`, document id = stream id). */
interface CheckpointDoc extends PositionDoc {
  exchange: string;
  symbol: string;
  type: string;
}

/** A group document (id `group:<exchange>:<type>:<bucket>`): its streams' positions by symbol. */
interface GroupDoc {
  exchange: string;
  type: string;
  streams: Record<string, PositionDoc>;
  updatedAt: number;
}

/**
 * The CheckpointStore port on Firestore. Writes go to the layout's documents (checkpoint-groups.ts) and keep
 * positions monotonic: a per-stream document in a transaction; a group document by a write conditioned on the
 * version this instance last read or wrote (one read per document per instance, not per write; a conflict
 * reads again). Reads take the furthest of both layouts, so a rolling deploy between layouts loses no progress.
 */
export class FirestoreCheckpointStore implements CheckpointStore {
  /** Group documents as this instance last read or wrote them. */
  readonly #known = new Map<string, KnownGroup>();

  constructor(
    private readonly db: Firestore,
    private readonly collection: string,
    private readonly clock: Clock,
    private readonly layout: CheckpointLayout = 'grouped',
  ) {}

  docOf(stream: StreamKey): string {
    return checkpointDocId(stream, this.layout);
  }

  async advance(advance: CheckpointAdvance): Promise<Checkpoint> {
    return (await this.advanceAll([advance]))[0]!;
  }

  /** Advances streams that share one document (`docOf`) in one write. */
  advanceAll(advances: readonly CheckpointAdvance[]): Promise<Checkpoint[]> {
    const id = this.docOf(advances[0]!.stream);
    if (advances.some((a) => this.docOf(a.stream) !== id)) {
      return Promise.reject(new Error(`advances of one write must share document ${id}`));
    }
    const ref = this.db.collection(this.collection).doc(id);
    return this.layout === 'per-stream'
      ? this.#advanceStream(ref, advances)
      : this.#advanceGroup(ref, advances);
  }

  #advanceStream(ref: DocumentReference, advances: readonly CheckpointAdvance[]): Promise<Checkpoint[]> {
    return this.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      const existing = snap.exists ? fromDoc(snap.data() as CheckpointDoc) : undefined;
      const now = this.clock.now();
      const merged = advances.reduce<Checkpoint | undefined>((c, a) => mergeCheckpoint(c, a, now), existing)!;
      tx.set(ref, toDoc(merged));
      return [merged];
    });
  }

  /** Merges into the known version and writes on that condition; another writer's change reads again. */
  async #advanceGroup(ref: DocumentReference, advances: readonly CheckpointAdvance[]): Promise<Checkpoint[]> {
    for (let attempt = 1; ; attempt++) {
      const known = this.#known.get(ref.id) ?? (await this.#readGroup(ref));
      const now = this.clock.now();
      const streams = { ...known?.streams };
      const merged = new Map<string, Checkpoint>();
      for (const a of advances) {
        const symbol = a.stream.symbol;
        const after = mergeCheckpoint(merged.get(symbol) ?? fromPosition(a.stream, streams[symbol]), a, now);
        merged.set(symbol, after);
        streams[symbol] = toPosition(after);
      }
      const { exchange, type } = advances[0]!.stream;
      const doc: GroupDoc = { exchange, type, streams, updatedAt: now };
      try {
        const written = known
          ? await ref.update({ ...doc }, { lastUpdateTime: known.updateTime })
          : await ref.create(doc);
        this.#remember(ref.id, { updateTime: written.writeTime, streams });
        return [...merged.values()];
      } catch (error) {
        this.#known.delete(ref.id);
        if (!isWriteConflict(error) || attempt >= MAX_GROUP_WRITE_ATTEMPTS) throw error;
      }
    }
  }

  async #readGroup(ref: DocumentReference): Promise<KnownGroup | undefined> {
    const snap = await ref.get();
    if (!snap.exists) return undefined;
    return { updateTime: snap.updateTime!, streams: (snap.data() as GroupDoc).streams };
  }

  #remember(id: string, group: KnownGroup): void {
    if (this.#known.size >= MAX_KNOWN_GROUPS && !this.#known.has(id)) this.#known.clear();
    this.#known.set(id, group);
  }

  async get(stream: StreamKey): Promise<Checkpoint | undefined> {
    const collection = this.db.collection(this.collection);
    const [own, group] = await this.db.getAll(
      collection.doc(streamId(stream)),
      collection.doc(groupDocId(stream)),
    );
    const grouped = group!.exists ? (group!.data() as GroupDoc).streams[stream.symbol] : undefined;
    return furthestCheckpoint(
      own!.exists ? fromDoc(own!.data() as CheckpointDoc) : undefined,
      fromPosition(stream, grouped),
    );
  }

  async list(): Promise<Checkpoint[]> {
    const snap = await this.db.collection(this.collection).get();
    const byStream = new Map<string, Checkpoint>();
    for (const checkpoint of snap.docs.flatMap(checkpointsOf)) {
      const id = streamId(checkpoint.stream);
      byStream.set(id, furthestCheckpoint(byStream.get(id), checkpoint)!);
    }
    return [...byStream.values()];
  }
}

/** The checkpoints one document holds: one (per-stream) or its group's. */
function checkpointsOf(doc: DocumentSnapshot): Checkpoint[] {
  const data = doc.data()!;
  if (typeof data.streams !== 'object' || data.streams === null) return [fromDoc(data as CheckpointDoc)];
  const group = data as GroupDoc;
  const type = dataType(group.type);
  return Object.entries(group.streams).map(
    ([symbol, position]) => fromPosition({ exchange: group.exchange, symbol, type }, position)!,
  );
}

function toDoc(c: Checkpoint): CheckpointDoc {
  return { exchange: c.stream.exchange, symbol: c.stream.symbol, type: c.stream.type, ...toPosition(c) };
}

function toPosition(c: Checkpoint): PositionDoc {
  return {
    lastTickTs: c.lastTickTs,
    lastTradeId: c.lastTradeId,
    committedRows: c.committedRows,
    coveredTo: c.coveredTo,
    lastBatchId: c.lastBatchId,
    updatedAt: c.updatedAt,
    ...(c.covered
      ? { covered: { since: c.covered.since, spans: c.covered.spans.flatMap((s) => [s.from, s.to]) } }
      : {}),
  };
}

function fromDoc(d: CheckpointDoc): Checkpoint {
  return fromPosition({ exchange: d.exchange, symbol: d.symbol, type: dataType(d.type) }, d)!;
}

function fromPosition(stream: StreamKey, d: PositionDoc | undefined): Checkpoint | undefined {
  if (d === undefined) return undefined;
  return {
    stream,
    lastTickTs: d.lastTickTs,
    lastTradeId: d.lastTradeId,
    committedRows: d.committedRows,
    coveredTo: d.coveredTo,
    lastBatchId: d.lastBatchId,
    updatedAt: d.updatedAt,
    ...(d.covered ? { covered: coveredOf(d.covered) } : {}),
  };
}

function coveredOf(stored: { since: number; spans: number[] }): CoveredSpans {
  const spans: Interval[] = [];
  for (let i = 0; i + 1 < stored.spans.length; i += 2)
    spans.push({ from: stored.spans[i]!, to: stored.spans[i + 1]! });
  return { since: stored.since, spans };
}

function dataType(type: string): DataType {
  if (!isDataType(type)) throw new Error(`checkpoint document has unknown type ${type}`);
  return type;
}
