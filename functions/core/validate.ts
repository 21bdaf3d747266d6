import { isSupportedExchange } from './exchanges.ts';
import type { Tick } from './tick.ts';

export interface ValidationLimits {
  /** How far past the writer's clock an exchange timestamp may be. */
  readonly maxFutureMs: number;
  /** Exchange timestamps before this (ms) are rejected; no venue we record traded before it. */
  readonly minTimestampMs: number;
}

export const DEFAULT_VALIDATION: ValidationLimits = Object.freeze({
  maxFutureMs: 5 * 60_000,
  minTimestampMs: Date.UTC(2010, 0, 1),
});

/** Returns why a tick can never be a valid row, or undefined when it is valid. */
export function invalidReason(
  tick: Tick,
  now: number,
  limits: ValidationLimits = DEFAULT_VALIDATION,
): string | undefined {
  if (!isSupportedExchange(tick.exchange)) return `unknown exchange "${tick.exchange}"`;
  if (!/^[A-Za-z0-9._\-/]{1,64}$/.test(tick.symbol)) return `invalid symbol "${tick.symbol}"`;
  const tsMs = tick.ts / 1000;
  if (tsMs < limits.minTimestampMs) return 'exchange timestamp before 2010';
  if (tsMs > now + limits.maxFutureMs) return 'exchange timestamp too far in the future';
  switch (tick.type) {
    case 'trade':
      if (!isPositive(tick.price)) return 'price is not a positive finite number';
      if (!isPositive(tick.amount)) return 'amount is not a positive finite number';
      return undefined;
    case 'book_ticker':
      for (const v of [tick.bidPrice, tick.askPrice])
        if (v !== undefined && !isPositive(v)) return 'quote price is invalid';
      for (const v of [tick.bidAmount, tick.askAmount])
        if (v !== undefined && !isNonNegative(v)) return 'quote amount is invalid';
      return undefined;
    case 'book_change':
      for (const level of [...tick.bids, ...tick.asks]) {
        if (!isPositive(level.price) || !isNonNegative(level.amount)) return 'price level is invalid';
      }
      return undefined;
  }
}

function isPositive(value: number): boolean {
  return Number.isFinite(value) && value > 0;
}

function isNonNegative(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}
