import type { DataType } from './streams.ts';

/** Timestamps in the core are integer microseconds since the Unix epoch (BigQuery TIMESTAMP precision). */
export type Micros = number;

interface TickBase {
  readonly exchange: string;
  readonly symbol: string;
  /** Exchange event time. */
  readonly ts: Micros;
  /** When the relay (or Tardis's recorder, for backfill) received the event. */
  readonly localTs: Micros;
}

export interface TradeTick extends TickBase {
  readonly type: 'trade';
  readonly id: string | undefined;
  readonly price: number;
  readonly amount: number;
  readonly side: 'buy' | 'sell' | 'unknown';
}

export interface QuoteTick extends TickBase {
  readonly type: 'book_ticker';
  /**
   * The exchange's own id of this best bid/ask update when it has one (Binance `u`, Coinbase `sequence`).
   * It is the quote's identity: tardis-dev stamps Binance spot book tickers with the local receive time,
   * so without it the same update would get a different row id live and from history. A number (a safe
   * non-negative integer) as the exchange sent it, or text when it sent digits as a string; the row id
   * spells both the same way (`q:400900217`).
   */
  readonly updateId?: string | number;
  readonly bidPrice: number | undefined;
  readonly bidAmount: number | undefined;
  readonly askPrice: number | undefined;
  readonly askAmount: number | undefined;
}

/**
 * Whether an update id is in its number form (see `QuoteTick.updateId`): a safe non-negative integer, which
 * a float64 holds exactly. The adapter keeps such ids as numbers, the relay sends them as the key column,
 * and the writer and validation accept nothing else as a number.
 */
export function isNumericUpdateId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export interface PriceLevel {
  readonly price: number;
  readonly amount: number;
}

export interface BookChangeTick extends TickBase {
  readonly type: 'book_change';
  readonly isSnapshot: boolean;
  readonly bids: readonly PriceLevel[];
  readonly asks: readonly PriceLevel[];
}

/**
 * A perpetual or future's funding, mark, index, open interest and last price, as tardis-dev's normalizer
 * merges them from several channels: each tick is the whole state after one raw message changed it
 * (absent fields: not yet seen on this connection or replay).
 */
export interface DerivativeTickerTick extends TickBase {
  readonly type: 'derivative_ticker';
  /**
   * The identity of the raw message that produced this state, when the exchange's descriptor can read one
   * (its channel and exchange event time, `derivativeTickerEventKey`). It keys the row id: the merged state
   * itself differs between a live run and a replay that starts mid-stream (decisions/0024).
   */
  readonly eventKey?: string;
  readonly lastPrice: number | undefined;
  readonly openInterest: number | undefined;
  readonly fundingRate: number | undefined;
  /** When the current funding rate applies (exchange time). */
  readonly fundingTs: Micros | undefined;
  readonly predictedFundingRate: number | undefined;
  readonly indexPrice: number | undefined;
  readonly markPrice: number | undefined;
}

/** A forced liquidation order (its fill) on a derivatives venue. */
export interface LiquidationTick extends TickBase {
  readonly type: 'liquidation';
  /** The exchange's id of the liquidation order when it sends one. */
  readonly id: string | undefined;
  readonly price: number;
  readonly amount: number;
  /** Side of the liquidation order: `sell` liquidates a long position. */
  readonly side: 'buy' | 'sell' | 'unknown';
}

export type Tick = TradeTick | QuoteTick | BookChangeTick | DerivativeTickerTick | LiquidationTick;

export type TickOf<T extends DataType> = Extract<Tick, { type: T }>;

export function dateToMicros(date: Date & { μs?: number }): Micros {
  return date.getTime() * 1000 + (date.μs ?? 0);
}

let isoSecond = NaN;
let isoPrefix = '';
/** `2024-01-01T00:00:00.123456Z`. Ticks come in runs within one second, so that second's text is reused. */
export function microsToIso(micros: Micros): string {
  const second = Math.floor(micros / 1_000_000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString(); // 2024-01-01T00:00:00.000Z
    if (iso.length !== 24) {
      // Years beyond 0000-9999 (+010000-...) are no valid timestamp; keep the former text for them.
      const ms = Math.floor(micros / 1000);
      return `${new Date(ms).toISOString().slice(0, 23)}${String(micros - ms * 1000).padStart(3, '0')}Z`;
    }
    isoPrefix = iso.slice(0, 20);
    isoSecond = second;
  }
  return `${isoPrefix}${String(micros - second * 1_000_000).padStart(6, '0')}Z`;
}
