/** A named, expiring, exclusive lease (Firestore in production), so overlapping runs never work together. */
export interface LeaseStore {
  /** Takes the lease if it is free, expired or already ours; returns whether we hold it now. */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if we still hold it. */
  release(name: string, holder: string): Promise<void>;
}
