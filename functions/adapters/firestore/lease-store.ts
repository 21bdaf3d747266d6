import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { Clock, LeaseStore } from '../../core/ports.ts';

interface LeaseDoc {
  holder: string;
  acquiredAt: number;
  /** A Firestore Timestamp so the TTL policy can delete abandoned leases. */
  expireAt: Timestamp;
}

/** The LeaseStore port on Firestore: one document per lease, taken and released in transactions. */
export class FirestoreLeaseStore implements LeaseStore {
  constructor(
    private readonly db: Firestore,
    private readonly collection: string,
    private readonly clock: Clock,
  ) {}

  acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const ref = this.db.collection(this.collection).doc(name);
    return this.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      const now = this.clock.now();
      const current = snap.exists ? (snap.data() as LeaseDoc) : undefined;
      if (current && current.holder !== holder && current.expireAt.toMillis() > now) return false;
      tx.set(ref, {
        holder,
        acquiredAt: now,
        expireAt: Timestamp.fromMillis(now + ttlMs),
      } satisfies LeaseDoc);
      return true;
    });
  }

  async release(name: string, holder: string): Promise<void> {
    const ref = this.db.collection(this.collection).doc(name);
    await this.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      if (snap.exists && (snap.data() as LeaseDoc).holder === holder) tx.delete(ref);
    });
  }
}
