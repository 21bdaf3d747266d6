import type { HeartbeatStore, RelayHeartbeat } from '../../../functions/core/ports.ts';

/** A HeartbeatStore double: the latest heartbeat of each relay and when it expires, as Firestore keeps them. */
export class MemoryHeartbeatStore implements HeartbeatStore {
  readonly docs = new Map<string, { heartbeat: RelayHeartbeat; expireAt: number }>();
  writes = 0;
  async write(heartbeat: RelayHeartbeat, expireAt: number): Promise<void> {
    this.writes++;
    this.docs.set(heartbeat.relayId, { heartbeat, expireAt });
  }
  /** The relay's heartbeat unless it has expired at `now` (the TTL policy would have deleted it). */
  latest(relayId: string, now: number): RelayHeartbeat | undefined {
    const doc = this.docs.get(relayId);
    return doc && doc.expireAt > now ? doc.heartbeat : undefined;
  }
}
