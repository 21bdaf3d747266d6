import type { TradeTick } from '../../functions/core/model/tick.ts';

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
