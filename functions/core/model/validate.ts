import { invalidSymbolReason } from '../exchanges/index.ts';
import type { Batch } from '../contract/batch.ts';
import type { StreamKey } from './streams.ts';
import { isNumericUpdateId, type DerivativeTickerTick, type Tick } from './tick.ts';

export interface ValidationLimits {
  /** How far past the writer's clock an exchange (or receive) timestamp may be. */
  readonly maxFutureMs: number;
  /** Timestamps before this (ms) are rejected; no venue we record traded before it. */
  readonly minTimestampMs: number;
  /**
   * How far past the writer's clock a coverage window may end. Tight, because coverage claimed ahead of
   * time would hide a real hole from the gap-filler.
   */
  readonly maxWindowFutureMs: number;
  /** Longest coverage window one batch may claim (relays cut batches after 100 ms, heartbeats every 1 s). */
  readonly maxWindowMs: number;
}

export const DEFAULT_VALIDATION: ValidationLimits = Object.freeze({
  maxFutureMs: 5 * 60_000,
  minTimestampMs: Date.UTC(2010, 0, 1),
  maxWindowFutureMs: 60_000,
  maxWindowMs: 60 * 60_000,
});

const RELAY_ID = /^[A-Za-z0-9._\-]{1,64}$/;
/** Exchange trade (and quote update) ids are short; a longer one is garbage (it is in the row id, the insertId). */
const MAX_TRADE_ID_LENGTH = 64;

/**
 * Why no tick of this stream can be a valid row (checked once per batch), or undefined: the exchange's
 * own symbol rule, the one the relay's configuration is checked with, so `BTCUSDT` is no second stream.
 */
export function invalidStreamReason(stream: Pick<StreamKey, 'exchange' | 'symbol'>): string | undefined {
  return invalidSymbolReason(stream.exchange, stream.symbol);
}

/**
 * Why a whole batch can never be stored (its stream, relay id or coverage window is impossible), or
 * undefined. Such a message is quarantined whole; its window stays uncovered, so the gap-filler refills it.
 */
export function invalidBatchReason(
  batch: Pick<Batch, 'stream' | 'relayId' | 'window'>,
  now: number,
  limits: ValidationLimits = DEFAULT_VALIDATION,
): string | undefined {
  const stream = invalidStreamReason(batch.stream);
  if (stream) return stream;
  if (!RELAY_ID.test(batch.relayId)) return 'invalid relay id';
  const { from, to } = batch.window;
  if (from < limits.minTimestampMs) return 'coverage window starts before 2010';
  if (to > now + limits.maxWindowFutureMs) return 'coverage window ends in the future';
  if (to - from > limits.maxWindowMs) return 'coverage window is too long';
  return undefined;
}

/** Why the values of a tick (its stream already checked) can never be a valid row, or undefined. */
export function invalidTickValues(
  tick: Tick,
  now: number,
  limits: ValidationLimits = DEFAULT_VALIDATION,
): string | undefined {
  const latest = (now + limits.maxFutureMs) * 1000;
  const earliest = limits.minTimestampMs * 1000;
  if (!(tick.ts >= earliest)) return 'exchange timestamp before 2010';
  if (!(tick.ts <= latest)) return 'exchange timestamp too far in the future';
  if (!(tick.localTs >= earliest)) return 'receive timestamp before 2010';
  if (!(tick.localTs <= latest)) return 'receive timestamp too far in the future';
  switch (tick.type) {
    case 'trade':
      if (!isPositive(tick.price)) return 'price is not a positive finite number';
      if (!isPositive(tick.amount)) return 'amount is not a positive finite number';
      if (tick.id !== undefined && tick.id.length > MAX_TRADE_ID_LENGTH) return 'trade id is too long';
      return undefined;
    case 'book_ticker':
      if (typeof tick.updateId === 'number' && !isNumericUpdateId(tick.updateId)) {
        return 'update id is not a non-negative integer';
      }
      if (typeof tick.updateId === 'string' && tick.updateId.length > MAX_TRADE_ID_LENGTH) {
        return 'update id is too long';
      }
      for (const v of [tick.bidPrice, tick.askPrice])
        if (v !== undefined && !isPositive(v)) return 'quote price is invalid';
      for (const v of [tick.bidAmount, tick.askAmount])
        if (v !== undefined && !isNonNegative(v)) return 'quote amount is invalid';
      return undefined;
    case 'book_change':
      for (const level of tick.bids) {
        if (!isPositive(level.price) || !isNonNegative(level.amount)) return 'price level is invalid';
      }
      for (const level of tick.asks) {
        if (!isPositive(level.price) || !isNonNegative(level.amount)) return 'price level is invalid';
      }
      return undefined;
    case 'derivative_ticker':
      return invalidTickerValues(tick, limits);
    case 'liquidation':
      if (!isPositive(tick.price)) return 'price is not a positive finite number';
      if (!isPositive(tick.amount)) return 'amount is not a positive finite number';
      if (tick.id !== undefined && tick.id.length > MAX_TRADE_ID_LENGTH) return 'liquidation id is too long';
      return undefined;
  }
}

/** A ticker's values: each one absent (not known yet) or sane; funding rates may be negative. */
function invalidTickerValues(tick: DerivativeTickerTick, limits: ValidationLimits): string | undefined {
  if (tick.eventKey !== undefined && tick.eventKey.length > MAX_TRADE_ID_LENGTH)
    return 'event key is too long';
  for (const v of [tick.lastPrice, tick.indexPrice, tick.markPrice]) {
    if (v !== undefined && !isPositive(v)) return 'ticker price is not a positive finite number';
  }
  if (tick.openInterest !== undefined && !isNonNegative(tick.openInterest)) return 'open interest is invalid';
  for (const v of [tick.fundingRate, tick.predictedFundingRate]) {
    if (v !== undefined && !Number.isFinite(v)) return 'funding rate is not a finite number';
  }
  const funding = tick.fundingTs;
  if (funding !== undefined && !(Number.isSafeInteger(funding) && funding >= limits.minTimestampMs * 1000)) {
    return 'funding timestamp is invalid';
  }
  return undefined;
}

/** Returns why a tick can never be a valid row, or undefined when it is valid. */
export function invalidReason(
  tick: Tick,
  now: number,
  limits: ValidationLimits = DEFAULT_VALIDATION,
): string | undefined {
  return invalidStreamReason(tick) ?? invalidTickValues(tick, now, limits);
}

function isPositive(value: number): boolean {
  return Number.isFinite(value) && value > 0;
}

function isNonNegative(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}
