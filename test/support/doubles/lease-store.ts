import type { Clock, LeaseStore } from '../../../functions/core/ports.ts';

/** A LeaseStore double: leases in memory, expiring by the injected clock, with Firestore's rules. */
export class MemoryLeaseStore implements LeaseStore {
  readonly leases = new Map<string, { holder: string; expireAt: number }>();
  constructor(private readonly clock: Clock) {}

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    const current = this.leases.get(name);
    if (current && current.holder !== holder && current.expireAt > now) return false;
    this.leases.set(name, { holder, expireAt: now + ttlMs });
    return true;
  }

  async release(name: string, holder: string): Promise<void> {
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name);
  }
}
