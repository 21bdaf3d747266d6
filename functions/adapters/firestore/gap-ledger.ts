import type { Firestore } from '@google-cloud/firestore';
import type { Gap, GapState } from '../../core/gapfill/gaps.ts';
import type { GapLedger } from '../../core/ports.ts';
import { isDataType, type StreamKey } from '../../core/model/streams.ts';

interface GapDoc {
  exchange: string;
  symbol: string;
  type: string;
  from: number;
  to: number;
  detectedBy: Gap['detectedBy'];
  state: GapState;
  attempts: number;
  nextAttemptAt: number;
  rowsBackfilled: number;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  /** Absent in documents written before the field existed. */
  fillableAt?: number | null;
  filledAt?: number | null;
}

/** The GapLedger port on Firestore: one document per gap, id = gap id; transitions are transactions. */
export class FirestoreGapLedger implements GapLedger {
  constructor(
    private readonly db: Firestore,
    private readonly collection: string,
  ) {}

  async record(gap: Gap): Promise<boolean> {
    try {
      await this.db.collection(this.collection).doc(gap.id).create(toDoc(gap));
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 6) return false; // ALREADY_EXISTS
      throw error;
    }
  }

  async get(id: string): Promise<Gap | undefined> {
    const snap = await this.db.collection(this.collection).doc(id).get();
    return snap.exists ? fromDoc(snap.id, snap.data() as GapDoc) : undefined;
  }

  async list(filter: { states?: readonly GapState[]; stream?: StreamKey } = {}): Promise<Gap[]> {
    let query = this.db.collection(this.collection) as FirebaseFirestore.Query;
    if (filter.states && filter.states.length > 0) query = query.where('state', 'in', [...filter.states]);
    if (filter.stream) {
      query = query
        .where('exchange', '==', filter.stream.exchange)
        .where('symbol', '==', filter.stream.symbol)
        .where('type', '==', filter.stream.type);
    }
    const snap = await query.get();
    return snap.docs.map((d) => fromDoc(d.id, d.data() as GapDoc)).sort((a, b) => a.from - b.from);
  }

  /**
   * The gaps that end after `since`, the latest end first, at most `limit`: a bounded read for the status
   * page. One range filter on `to`, so Firestore's automatic single-field index serves it.
   */
  async listEndingAfter(since: number, limit: number): Promise<Gap[]> {
    const snap = await this.db
      .collection(this.collection)
      .where('to', '>', since)
      .orderBy('to', 'desc')
      .limit(limit)
      .get();
    return snap.docs.map((d) => fromDoc(d.id, d.data() as GapDoc));
  }

  transition(id: string, expected: GapState, next: Gap): Promise<boolean> {
    const ref = this.db.collection(this.collection).doc(id);
    return this.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      if (!snap.exists || (snap.data() as GapDoc).state !== expected) return false;
      tx.set(ref, toDoc(next));
      return true;
    });
  }
}

function toDoc(g: Gap): GapDoc {
  return {
    exchange: g.stream.exchange,
    symbol: g.stream.symbol,
    type: g.stream.type,
    from: g.from,
    to: g.to,
    detectedBy: g.detectedBy,
    state: g.state,
    attempts: g.attempts,
    nextAttemptAt: g.nextAttemptAt,
    rowsBackfilled: g.rowsBackfilled,
    reason: g.reason,
    createdAt: g.createdAt,
    updatedAt: g.updatedAt,
    fillableAt: g.fillableAt,
    filledAt: g.filledAt,
  };
}

function fromDoc(id: string, d: GapDoc): Gap {
  if (!isDataType(d.type)) throw new Error(`gap ${id} has unknown type ${d.type}`);
  return {
    id,
    stream: { exchange: d.exchange, symbol: d.symbol, type: d.type },
    from: d.from,
    to: d.to,
    detectedBy: d.detectedBy,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt,
    rowsBackfilled: d.rowsBackfilled,
    reason: d.reason,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    fillableAt: d.fillableAt ?? null,
    filledAt: d.filledAt ?? null,
  };
}
