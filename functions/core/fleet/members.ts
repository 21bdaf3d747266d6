/**
 * Which members are alive, judged like the shard leases: by local monotonic time since this instance saw a
 * member's heartbeat change, never by comparing the member's clock with ours.
 */
import type { MemberRecord } from './store.ts';

interface Seen {
  readonly beat: number;
  readonly changedAt: number;
}

export class MemberWatch {
  private readonly seen = new Map<string, Seen>();
  private records = new Map<string, MemberRecord>();

  constructor(
    private readonly self: string,
    private readonly deadAfterMs: number,
  ) {}

  /** Takes a successful read of every member document at local monotonic time `nowMs`. */
  observe(members: readonly MemberRecord[], nowMs: number): void {
    const present = new Set<string>();
    for (const m of members) {
      present.add(m.memberId);
      const before = this.seen.get(m.memberId);
      if (before === undefined || before.beat !== m.beat) {
        this.seen.set(m.memberId, { beat: m.beat, changedAt: nowMs });
      }
    }
    // A deleted document is a clean exit: forget it at once.
    for (const id of this.seen.keys()) if (!present.has(id)) this.seen.delete(id);
    this.records = new Map(members.map((m) => [m.memberId, m]));
  }

  /** The member's last read document, if any. */
  record(memberId: string): MemberRecord | undefined {
    return this.records.get(memberId);
  }

  /** Its heartbeat changed within the dead time (a first sighting starts the timer). */
  isAlive(memberId: string, nowMs: number): boolean {
    if (memberId === this.self) return true;
    const seen = this.seen.get(memberId);
    return seen !== undefined && nowMs - seen.changedAt < this.deadAfterMs;
  }

  /**
   * Members that get assignments: alive and not leaving, with their pools; this instance always (unless
   * it is leaving itself), so a member cut off from Firestore keeps its own shards.
   */
  assignable(nowMs: number, selfPool: string, selfLeaving: boolean): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, record] of this.records) {
      if (id !== this.self && !record.leaving && this.isAlive(id, nowMs)) out.set(id, record.pool);
    }
    if (!selfLeaving) out.set(this.self, selfPool);
    return out;
  }
}
