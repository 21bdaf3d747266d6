import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { FleetStore, MemberRecord, ShardRecord } from '../../core/fleet/store.ts';

/** A shard id (`binance/3`) as a document id: `/` separates path segments in Firestore. */
export function shardDocId(shard: string): string {
  return shard.replaceAll('/', '~');
}

/**
 * The FleetStore port on Firestore: `members/<memberId>` (the member's heartbeat, overwritten once per
 * renewal) and `shards/<exchange>~<index>` (ownership, written only in take-over transactions). Shapes:
 * docs/decisions/0021-fleet-sharding-and-ownership.md.
 */
export class FirestoreFleetStore implements FleetStore {
  constructor(
    private readonly db: Firestore,
    private readonly members: string,
    private readonly shards: string,
  ) {}

  async readMembers(): Promise<MemberRecord[]> {
    const snap = await this.db.collection(this.members).get();
    return snap.docs.map((d) => toMember(d.data()));
  }

  async readShards(): Promise<ShardRecord[]> {
    const snap = await this.db.collection(this.shards).get();
    return snap.docs.map((d) => toShard(d.data()));
  }

  async writeMember(member: MemberRecord, expireAt: number): Promise<void> {
    await this.db
      .collection(this.members)
      .doc(member.memberId)
      .set({ ...member, shards: { ...member.shards }, expireAt: Timestamp.fromMillis(expireAt) });
  }

  async removeMember(memberId: string): Promise<void> {
    await this.db.collection(this.members).doc(memberId).delete();
  }

  takeOver(next: ShardRecord, expectEpoch: number | null, reason: string): Promise<boolean> {
    const ref = this.db.collection(this.shards).doc(shardDocId(next.shard));
    return this.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      const epoch = snap.exists ? toShard(snap.data()!).epoch : null;
      if (epoch !== expectEpoch) return false;
      tx.set(ref, { ...next, takenAt: Timestamp.now(), reason });
      return true;
    });
  }
}

function toMember(data: FirebaseFirestore.DocumentData): MemberRecord {
  return {
    memberId: String(data.memberId),
    pool: String(data.pool ?? ''),
    startedAt: Number(data.startedAt),
    renewedAt: Number(data.renewedAt),
    beat: Number(data.beat),
    leaving: data.leaving === true,
    shards: (data.shards ?? {}) as MemberRecord['shards'],
  };
}

function toShard(data: FirebaseFirestore.DocumentData): ShardRecord {
  return {
    shard: String(data.shard),
    holder: String(data.holder),
    epoch: Number(data.epoch),
    publishedTo: Number(data.publishedTo),
    renewedAt: Number(data.renewedAt),
  };
}
