// Malformed messages for the poison-messages fault: each must end in the quarantine table, be
// acknowledged (no redelivery loop) and leave no row in the tick tables.
import type { PoisonKind } from './plan.ts';

export interface PoisonMessage {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
}

const RELAY = 'chaos-poison';

/**
 * The poison messages of one run: each takes the run's next serial (its `q`, trade ids and `n`), so no two
 * are alike and no two claim one batch id, however many bursts the run injects.
 */
export class PoisonSource {
  private sent = 0;

  constructor(
    private readonly seed: number,
    private readonly symbols: readonly string[],
  ) {}

  /** The run's next message of `kind`, built at `now` (ms), on the symbols in turn. */
  next(kind: PoisonKind, now: number): PoisonMessage {
    const serial = this.sent++;
    return poisonMessage(kind, this.symbols[serial % this.symbols.length]!, this.seed * 1000 + serial, now);
  }
}

/**
 * A malformed message of `kind` for stream binance:<symbol>:trade, built at `now` (ms). `n` makes each
 * message distinct (in its data, and in its attributes for `empty`). `bad-ticks` is a well-formed batch
 * whose every tick is invalid: the writer keeps the ticks in quarantine and commits the batch's coverage,
 * which lies inside time the real relay covers.
 */
export function poisonMessage(kind: PoisonKind, symbol: string, n: number, now: number): PoisonMessage {
  const attributes: Record<string, string> = { chaos: 'poison', poison: kind, n: String(n) };
  const batch = (over: Record<string, unknown>) => ({
    v: 1,
    e: 'binance',
    s: symbol,
    k: 'trade',
    r: RELAY,
    q: n,
    w: [now - 50, now],
    t: [],
    ...over,
  });
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  switch (kind) {
    case 'not-json':
      return { data: Buffer.from(`this is not json {{ #${n}`), attributes };
    case 'binary': {
      const serial = Buffer.alloc(4);
      serial.writeUInt32BE(n >>> 0);
      const bytes = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + n * 11) % 256));
      return { data: Buffer.concat([bytes, serial]), attributes };
    }
    case 'empty':
      return { data: Buffer.alloc(0), attributes };
    case 'wrong-version':
      return { data: json(batch({ v: 99 })), attributes };
    case 'not-an-object':
      return { data: json([1, 'two', { three: n }]), attributes };
    case 'truncated':
      return { data: json(batch({})).subarray(0, 40), attributes };
    case 'bad-field':
      return { data: json(batch({ w: 'yesterday' })), attributes };
    case 'future-window':
      return { data: json(batch({ w: [now + 3_600_000, now + 3_600_100] })), attributes };
    case 'bad-ticks': {
      const us = now * 1000;
      const id = 900_000_000_000 + n;
      return {
        data: json(
          batch({
            t: [
              // row id that does not match the tick
              [`binance:${symbol}:t:1`, String(id), 100, 1, 'buy', us, us],
              // negative price, zero amount
              [`binance:${symbol}:t:${id + 1}`, String(id + 1), -5, 0, 'sell', us, us],
              // not a tick array at all, wrong arity, wrong side
              'garbage',
              [`binance:${symbol}:t:${id + 2}`, String(id + 2), 1, 1],
              [`binance:${symbol}:t:${id + 3}`, String(id + 3), 1, 1, 'sideways', us, us],
              // timestamp far in the future
              [`binance:${symbol}:t:${id + 4}`, String(id + 4), 1, 1, 'buy', us + 86_400e6, us],
            ],
          }),
        ),
        attributes,
      };
    }
  }
}
