import { newGap } from '../gapfill/gaps.ts';
import { streamId, type StreamKey } from '../model/streams.ts';
import type { GapLedger, Logger, TradeIdJump } from '../ports.ts';

/** One trade stream's continuity: its highest trade id so far and that trade's receive ms (NaN before). */
export interface TradeIdTrack {
  lastId: number;
  lastAt: number;
}

export const newTrack = (): TradeIdTrack => ({ lastId: Number.NaN, lastAt: Number.NaN });

/**
 * Checks one trade of an exchange whose trade ids are contiguous (descriptor `contiguousTradeIds`) and
 * returns the jump it closes, if ids are missing before it: receive ms of the last trade before and of
 * this one. A repeated or older id is no jump; an id that is not a safe integer in decimal digits is not checked.
 */
export function checkTradeId(
  track: TradeIdTrack,
  id: string | undefined,
  at: number,
): TradeIdJump | undefined {
  const n = id === undefined ? Number.NaN : decimalId(id);
  if (Number.isNaN(n)) return undefined;
  const jump = n > track.lastId + 1 ? { before: track.lastAt, after: at } : undefined;
  if (!(n <= track.lastId)) {
    track.lastId = n;
    track.lastAt = at;
  }
  return jump;
}

/**
 * The value of an id written in decimal digits when it is a safe integer, else NaN. Read digit by digit,
 * which is faster than `Number` on the ids exchanges send (see docs/PERFORMANCE.md).
 */
export function decimalId(text: string): number {
  const length = text.length;
  if (length === 0 || length > 16) return Number.NaN;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    n = n * 10 + digit;
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : Number.NaN;
}

const ATTEMPTS = 4;
const RETRY_MS = 1000;

/**
 * Records each trade-id jump the relay sees as a `trade_ids` gap `[before, after + 1)` in the ledger
 * (the interval the gap-filler's warehouse check records, so both give one gap id). Retried a few times;
 * if every attempt fails the coverage hole the relay left at the jump is the backstop (decisions/0029).
 */
export class TradeIdJumpRecorder {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly ledger: GapLedger,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly retryMs = RETRY_MS,
  ) {}

  /** Hook for RelayOptions.onTradeIdJump. */
  record(stream: StreamKey, jump: TradeIdJump): void {
    const done = this.write(stream, jump).finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  /** Waits for the records in flight (shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async write(stream: StreamKey, jump: TradeIdJump): Promise<void> {
    const gap = newGap(stream, jump.before, jump.after + 1, 'trade_ids', this.now());
    const fields = { stream: streamId(stream), gapId: gap.id, from: gap.from, to: gap.to };
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await this.ledger.record(gap);
        this.logger.log('WARNING', 'trade-id jump recorded: trades are missing from the feed', {
          ...fields,
          created,
        });
        return;
      } catch (error) {
        if (attempt >= ATTEMPTS) {
          this.logger.log('ERROR', 'trade-id jump not recorded; the coverage hole at it remains', {
            ...fields,
            error,
          });
          return;
        }
        await new Promise((r) => setTimeout(r, this.retryMs * attempt));
      }
    }
  }
}
