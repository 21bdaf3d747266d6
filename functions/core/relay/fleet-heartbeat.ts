import type { MemberRecord, FleetStore } from '../fleet/store.ts';
import type { Clock, Logger } from '../ports.ts';

/** Member documents outlive their writer by this much before TTL cleanup (liveness never reads it). */
const MEMBER_TTL_MS = 24 * 3_600_000;

/** The member's heartbeat: one write at a time, each with the next beat (what readers watch change). */
export class FleetHeartbeat {
  private writing: Promise<void> | undefined;
  private beat = 0;

  constructor(
    private readonly store: FleetStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly member: { readonly self: string; readonly pool: string; readonly startedAt: number },
  ) {}

  /** Writes the heartbeat unless one is in flight. */
  write(shards: MemberRecord['shards'], leaving: boolean): void {
    if (this.writing) return;
    const now = this.clock.now();
    const { self: memberId, pool, startedAt } = this.member;
    const record: MemberRecord = {
      memberId,
      pool,
      startedAt,
      renewedAt: now,
      beat: ++this.beat,
      leaving,
      shards,
    };
    // Not bounded by a timer: the next write waits for this one, so writes never pile up in the client.
    this.writing = this.store
      .writeMember(record, now + MEMBER_TTL_MS)
      .catch((error: unknown) => this.logger.log('WARNING', 'fleet heartbeat write failed', { error }))
      .finally(() => (this.writing = undefined));
  }
}
