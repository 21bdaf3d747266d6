import type { DerivativeTickerTick, LiquidationTick, TradeTick } from '../../functions/core/model/tick.ts';

/** A valid trade tick; `n` picks the trade id and spaces timestamps 1 ms apart. */
export function trade(n: number, overrides: Partial<TradeTick> = {}): TradeTick {
  const ts = Date.UTC(2026, 0, 1) * 1000 + n * 1000;
  return {
    type: 'trade',
    exchange: 'binance',
    symbol: 'btcusdt',
    id: String(1000 + n),
    price: 37000 + (n % 100) / 10,
    amount: 0.001 * ((n % 7) + 1),
    side: n % 2 === 0 ? 'buy' : 'sell',
    ts,
    localTs: ts + 1500,
    ...overrides,
  };
}

/** A valid derivative ticker on a futures symbol; `n` picks the event key and spaces timestamps 1 s apart. */
export function derivativeTicker(
  n: number,
  overrides: Partial<DerivativeTickerTick> = {},
): DerivativeTickerTick {
  const ts = Date.UTC(2026, 0, 1) * 1000 + n * 1_000_000;
  return {
    type: 'derivative_ticker',
    exchange: 'binance',
    symbol: 'btcusdt',
    eventKey: `markPrice:${ts / 1000}`,
    lastPrice: 37000 + n / 10,
    openInterest: 81234.567 + n,
    fundingRate: n % 3 === 0 ? -0.0000042 : 0.0001,
    fundingTs: Date.UTC(2026, 0, 1, 8) * 1000,
    predictedFundingRate: n % 2 === 0 ? undefined : 0.00012,
    indexPrice: 36999.8712 + n,
    markPrice: 37000.1234 + n,
    ts,
    localTs: ts + 2100,
    ...overrides,
  };
}

/** A valid liquidation; `n` spaces timestamps 1 s apart; without an id unless one is given. */
export function liquidation(n: number, overrides: Partial<LiquidationTick> = {}): LiquidationTick {
  const ts = Date.UTC(2026, 0, 1) * 1000 + n * 1_000_000 + 337;
  return {
    type: 'liquidation',
    exchange: 'binance',
    symbol: 'btcusdt',
    id: undefined,
    price: 36950 + n,
    amount: 0.125 * (n + 1),
    side: n % 2 === 0 ? 'sell' : 'buy',
    ts,
    localTs: ts + 900,
    ...overrides,
  };
}
