import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { HeartbeatStore, RelayHeartbeat } from '../../core/ports.ts';

/**
 * The HeartbeatStore port on Firestore: one document per relay instance (id = relay id), overwritten
 * every few seconds (well under Firestore's ~1 write/s per document). `expireAt` is a Timestamp, the
 * field the collection's TTL policy deletes on, so documents of stopped instances go away by themselves.
 */
export class FirestoreHeartbeatStore implements HeartbeatStore {
  constructor(
    private readonly db: Firestore,
    private readonly collection: string,
  ) {}

  async write(heartbeat: RelayHeartbeat, expireAt: number): Promise<void> {
    await this.db
      .collection(this.collection)
      .doc(heartbeat.relayId)
      .set({
        ...heartbeat,
        streams: heartbeat.streams.map((s) => ({ ...s })),
        counters: { ...heartbeat.counters },
        expireAt: Timestamp.fromMillis(expireAt),
      });
  }
}
