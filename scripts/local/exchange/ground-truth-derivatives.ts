/**
 * The ground truth's derivatives kinds: a perpetual's ticker (funding, mark, index, open interest, last
 * price) and its liquidations. Same contract as the other kinds (ground-truth.ts): every tick is a
 * function of (seed, exchange, symbol, rate, kind, index), placed in its slot by tickSource, but at
 * modest rates of their own (KIND_MAX_RATE), as on a real venue: about one ticker a second and a
 * liquidation every few seconds, so a 30 s run has a few of each.
 *
 * Every value of a ticker changes at every tick (the last digit's parity alternates with the index), so
 * tardis-dev's derivative ticker normalizer, which emits only on a change, emits one ticker for every
 * message a wire sends, whichever of the values that wire carries.
 */
import { formatUnits, midTicksAt, unit } from './ground-truth-random.ts';
import type { SourceContext, TickBase } from './ground-truth.ts';

/** Highest ticks per second of a derivatives kind; a stream's own rate is the cap when it is lower. */
export const KIND_MAX_RATE = { derivativeTicker: 1, liquidation: 0.25 } as const;

const EIGHT_HOURS_MS = 8 * 3_600_000;
/** Funding rates are in units of 1e-8 (Binance prints 8 decimals). */
const FUNDING_DECIMALS = 8;
/** Mark and index prices carry two more decimals than the symbol's trade prices, as on Binance USD-M. */
const EXTRA_PRICE_DECIMALS = 2;

export interface DerivativeTicker extends TickBase {
  readonly kind: 'derivativeTicker';
  /** Sequential per symbol: index + 1, for a wire that numbers its ticker messages. */
  readonly updateId: number;
  readonly markPrice: string;
  readonly indexPrice: string;
  readonly lastPrice: string;
  /** Decimal string, may be negative ("-0.00000420"). */
  readonly fundingRate: string;
  readonly predictedFundingRate: string;
  /** When the current funding rate applies: the next 8-hour boundary (00, 08, 16 UTC), epoch ms. */
  readonly fundingTime: number;
  /** In base units (contracts of one coin), decimal string. */
  readonly openInterest: string;
}

export interface Liquidation extends TickBase {
  readonly kind: 'liquidation';
  /** Sequential per symbol: index + 1, for a wire that ids its liquidation orders. */
  readonly id: number;
  /** Side of the liquidation order: `sell` closes a long position below the market. */
  readonly side: 'buy' | 'sell';
  readonly price: string;
  readonly qty: string;
}

/** The fields every tick of a stream has. */
function tickBase(ctx: SourceContext, index: number, timestamp: number, nonce: number): TickBase {
  return { exchange: ctx.stream.exchange, symbol: ctx.symbol, index, timestamp, nonce };
}

/** `units` with its lowest digit's parity set by `index`, so consecutive ticks never repeat a value. */
function alternating(units: number, index: number): number {
  return units - (units % 2) + (index % 2);
}

/** A signed decimal string of an integer amount of 10^-decimals units. */
function formatSigned(units: number, decimals: number): string {
  return units < 0 ? `-${formatUnits(-units, decimals)}` : formatUnits(units, decimals);
}

export function derivativeTicker(
  ctx: SourceContext,
  index: number,
  timestamp: number,
  rnd: () => number,
): DerivativeTicker {
  const nonce = rnd();
  const { priceDecimals, qtyDecimals, meanQty } = ctx.spec;
  const fine = 10 ** EXTRA_PRICE_DECIMALS;
  const mid = midTicksAt(ctx.price, timestamp);
  // Mark and index within +-1 trade tick of the mid; last within one tick; all at least 1 unit.
  const near = (scale: number) => Math.max(2, mid * scale + (rnd() % (2 * scale + 1)) - scale);
  const meanLots = Math.max(1, Math.round(meanQty * 10 ** qtyDecimals));
  // Funding between -0.00001 and 0.00003 per period: mostly longs paying, sometimes shorts.
  const funding = () => (rnd() % 4001) - 1000;
  return {
    kind: 'derivativeTicker',
    ...tickBase(ctx, index, timestamp, nonce),
    updateId: index + 1,
    markPrice: formatUnits(alternating(near(fine), index), priceDecimals + EXTRA_PRICE_DECIMALS),
    indexPrice: formatUnits(alternating(near(fine), index), priceDecimals + EXTRA_PRICE_DECIMALS),
    lastPrice: formatUnits(alternating(near(1), index), priceDecimals),
    fundingRate: formatSigned(alternating(funding(), index), FUNDING_DECIMALS),
    predictedFundingRate: formatSigned(alternating(funding(), index), FUNDING_DECIMALS),
    fundingTime: (Math.floor(timestamp / EIGHT_HOURS_MS) + 1) * EIGHT_HOURS_MS,
    openInterest: formatUnits(
      alternating(meanLots * 50_000 + (rnd() % (meanLots * 1000)), index),
      qtyDecimals,
    ),
  };
}

export function liquidation(
  ctx: SourceContext,
  index: number,
  timestamp: number,
  rnd: () => number,
): Liquidation {
  const nonce = rnd();
  const side = (rnd() & 1) === 1 ? 'sell' : 'buy';
  const mid = midTicksAt(ctx.price, timestamp);
  // Up to 0.5% through the market: below it for a long's forced sell, above it for a short's forced buy.
  const through = 1 + Math.floor(unit(rnd()) * Math.max(1, Math.floor(mid / 200)));
  const meanLots = Math.max(1, Math.round(ctx.spec.meanQty * 10 ** ctx.spec.qtyDecimals));
  return {
    kind: 'liquidation',
    ...tickBase(ctx, index, timestamp, nonce),
    id: index + 1,
    side,
    price: formatUnits(Math.max(1, side === 'sell' ? mid - through : mid + through), ctx.spec.priceDecimals),
    qty: formatUnits(1 + Math.floor(10 * meanLots * unit(rnd())), ctx.spec.qtyDecimals),
  };
}
