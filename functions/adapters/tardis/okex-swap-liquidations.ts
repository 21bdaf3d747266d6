import { normalizeLiquidations } from 'tardis-dev';
import type { AnyMapperFactory } from './exchanges.ts';

/**
 * tardis-dev's okex-swap liquidation normalizer without its first-message skip. Its mapper drops the first
 * `liquidation-orders` message it sees, because OKX opens a subscription by pushing the latest liquidations
 * again; but a history replay has no such push, so the skip would lose a real liquidation at the start of
 * every backfill. Kept, a re-pushed liquidation has the content-hash row id of the original (same time,
 * price, size, side) and collapses with it in `liquidations_dedup`; one that happened while disconnected
 * closes the hole. (13.35.3 keeps the flag in `_isFirstMessage`; test/unit/exchange-okex-swap.test.ts
 * fails if that changes.)
 */
export const okexSwapLiquidations: AnyMapperFactory = (exchange, localTimestamp) => {
  const factory = normalizeLiquidations as unknown as AnyMapperFactory;
  const mapper = factory(exchange, localTimestamp) as ReturnType<AnyMapperFactory> & {
    _isFirstMessage?: boolean;
  };
  if (mapper._isFirstMessage === true) mapper._isFirstMessage = false;
  return mapper;
};
