import type { DerivativeTickerTick } from '../model/tick.ts';

/** Writes a ticker's nine fields at `r` (NaN: not known yet, as a quote's empty side); returns its key. */
export function writeTicker(f: Float64Array, r: number, d: DerivativeTickerTick): string | null {
  f[r] = d.lastPrice ?? Number.NaN;
  f[r + 1] = d.openInterest ?? Number.NaN;
  f[r + 2] = d.fundingRate ?? Number.NaN;
  f[r + 3] = d.fundingTs ?? Number.NaN;
  f[r + 4] = d.predictedFundingRate ?? Number.NaN;
  f[r + 5] = d.indexPrice ?? Number.NaN;
  f[r + 6] = d.markPrice ?? Number.NaN;
  f[r + 7] = d.ts;
  f[r + 8] = d.localTs;
  return d.eventKey ?? null;
}
