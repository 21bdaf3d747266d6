import type { GroundTruthStream, SymbolSpec } from './ground-truth.ts';

// The ground truth's seeded randomness and price path (integer arithmetic only): shared by every kind's
// generator (ground-truth.ts, ground-truth-derivatives.ts).

/** Ticks exist from this instant on (2020-01-01T00:00:00Z); windows before it are empty. */
export const GROUND_TRUTH_EPOCH_MS = Date.UTC(2020, 0, 1);

// ---------------------------------------------------------------------------------------------------
// Hashing and seeded randomness (32-bit, integer only).

const GOLDEN = 0x9e3779b9;
const TWO_POW_32 = 0x1_0000_0000;

export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A splitmix32-style stream of uint32 values, seeded by (key, index); index may exceed 2^32. */
export function indexRandom(key: number, index: number): () => number {
  const lo = index >>> 0;
  const hi = Math.floor(index / TWO_POW_32) >>> 0;
  let state = fmix32(key ^ fmix32(lo ^ fmix32((hi + GOLDEN) >>> 0)));
  return () => {
    state = (state + GOLDEN) >>> 0;
    return fmix32(state);
  };
}

export const unit = (u32: number): number => u32 / TWO_POW_32;

// ---------------------------------------------------------------------------------------------------
// Price: a sum of value-noise octaves of time, so the price at any instant costs O(octaves).

const PRICE_OCTAVES = [
  { periodMs: 6 * 3_600_000, amplitude: 0.04 },
  { periodMs: 3_600_000, amplitude: 0.012 },
  { periodMs: 600_000, amplitude: 0.004 },
  { periodMs: 60_000, amplitude: 0.0012 },
  { periodMs: 10_000, amplitude: 0.0004 },
] as const;

export interface PriceModel {
  readonly baseTicks: number;
  readonly octaveKeys: readonly number[];
  /** Memo of the lattice cell each octave last used: consecutive ticks almost always share it. */
  readonly cell: { i: number; a: number; b: number }[];
}

export function priceModel(stream: GroundTruthStream, spec: SymbolSpec): PriceModel {
  const symbol = stream.symbol.toLowerCase();
  return {
    baseTicks: Math.round(spec.basePrice * 10 ** spec.priceDecimals),
    octaveKeys: PRICE_OCTAVES.map((_, i) =>
      fnv1a32(`${stream.seed}|${stream.exchange}|${symbol}|price|${i}`),
    ),
    cell: PRICE_OCTAVES.map(() => ({ i: Number.NaN, a: 0, b: 0 })),
  };
}

/** Seeded value in [-1, 1) at integer lattice point i. */
function lattice(key: number, i: number): number {
  return unit(indexRandom(key, i)()) * 2 - 1;
}

/** Mid price in price ticks (integer) at an epoch-ms instant. */
export function midTicksAt(model: PriceModel, timestamp: number): number {
  const t = timestamp - GROUND_TRUTH_EPOCH_MS;
  let offset = 0;
  for (let o = 0; o < PRICE_OCTAVES.length; o++) {
    const { periodMs, amplitude } = PRICE_OCTAVES[o]!;
    const x = t / periodMs;
    const i = Math.floor(x);
    const f = x - i;
    const smooth = f * f * (3 - 2 * f);
    const cell = model.cell[o]!;
    if (cell.i !== i) {
      const key = model.octaveKeys[o]!;
      cell.i = i;
      cell.a = lattice(key, i);
      cell.b = lattice(key, i + 1);
    }
    offset += amplitude * (cell.a + (cell.b - cell.a) * smooth);
  }
  return Math.max(1, Math.round(model.baseTicks * (1 + offset)));
}

/** Formats an integer amount of 10^-decimals units as a decimal string: (3700010, 2) -> "37000.10". */
export function formatUnits(units: number, decimals: number): string {
  if (decimals === 0) return String(units);
  const digits = String(units).padStart(decimals + 1, '0');
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}
