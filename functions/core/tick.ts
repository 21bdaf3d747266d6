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
  readonly bidPrice: number | undefined;
  readonly bidAmount: number | undefined;
  readonly askPrice: number | undefined;
  readonly askAmount: number | undefined;
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

export type Tick = TradeTick | QuoteTick | BookChangeTick;

export type TickOf<T extends DataType> = Extract<Tick, { type: T }>;

export function dateToMicros(date: Date & { μs?: number }): Micros {
  return date.getTime() * 1000 + (date.μs ?? 0);
}

export function microsToIso(micros: Micros): string {
  const ms = Math.floor(micros / 1000);
  const rest = micros - ms * 1000;
  const iso = new Date(ms).toISOString(); // 2024-01-01T00:00:00.000Z
  return `${iso.slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}
