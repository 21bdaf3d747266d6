/**
 * Deterministic market ground truth shared by the exchange simulator and the history server.
 *
 * Pure: no I/O, no clock. Every tick is a function of (seed, exchange, symbol, rate, kind, index), so
 * any window can be recomputed on its own at O(ticks in window) cost, and "what happened on the
 * exchange in [from, to)" exists whether or not anyone was connected.
 *
 * Time model: from GROUND_TRUTH_EPOCH_MS, time is cut into slots of 1000/rate ms (slot k spans
 * [floor(k*1000/rate), floor((k+1)*1000/rate)) ms after the epoch) and tick k of a stream falls at a
 * seeded offset inside slot k. Each slot is at least 1 ms long (rate <= 1000), so timestamps (whole ms)
 * strictly increase with k. Trade id = k + 1 and book ticker and order book update id = k + 1: ids are
 * sequential per symbol and kind, and a gap in ids is a gap in data. The rate is part of the identity: the
 * same seed with another rate is another market.
 *
 * Order book (kind 'bookChange'): a fixed grid of BOOK_LEVELS_PER_SIDE price points per side around the
 * symbol's base price, whose sizes change, vanish and come back. Each update touches two grid points on
 * a schedule that is O(1) to invert (see bookTouches), so the whole book before any update is computable
 * in O(levels) without replaying from the epoch: any window's snapshot and updates are reproducible alone.
 *
 * Only integer arithmetic, multiplication and addition feed prices and sizes (no Math.exp/log), so the
 * numbers are identical on every JavaScript engine.
 */

import {
  fmix32,
  fnv1a32,
  formatUnits,
  GROUND_TRUTH_EPOCH_MS,
  indexRandom,
  midTicksAt,
  priceModel,
  unit,
  type PriceModel,
} from './ground-truth-random.ts';

import {
  derivativeTicker,
  KIND_MAX_RATE,
  liquidation,
  type DerivativeTicker,
  type Liquidation,
} from './ground-truth-derivatives.ts';

export { formatUnits, GROUND_TRUTH_EPOCH_MS } from './ground-truth-random.ts';
export type { DerivativeTicker, Liquidation } from './ground-truth-derivatives.ts';

/** Highest supported ticks per second per symbol per kind (keeps ms timestamps strictly increasing). */
export const MAX_RATE_PER_SYMBOL = 1000;

/** The stream kinds the ground truth can generate. A new kind adds an entry to GENERATORS. */
export type TickKind = 'trade' | 'bookTicker' | 'bookChange' | 'derivativeTicker' | 'liquidation';

export const TICK_KINDS: readonly TickKind[] = [
  'trade',
  'bookTicker',
  'bookChange',
  'derivativeTicker',
  'liquidation',
];

/** Price points per side of the simulated order book (the snapshot has at most this many levels a side). */
export const BOOK_LEVELS_PER_SIDE = 20;

/** Identifies one market: ticks of every kind for one symbol on one (simulated) exchange. */
export interface GroundTruthStream {
  readonly seed: number;
  /** Exchange id as tardis-dev spells it, e.g. 'binance'. Part of the hash key only. */
  readonly exchange: string;
  /** Case-insensitive; ticks carry it lower-cased. */
  readonly symbol: string;
  /**
   * Ticks per second per symbol per kind, 0 < rate <= 1000. The derivatives kinds run at most at
   * KIND_MAX_RATE (ground-truth-derivatives.ts): about one ticker a second, a liquidation every 4 s.
   */
  readonly rate: number;
}

/** A half-open time window [from, to) of one stream; numbers are epoch milliseconds. */
export interface GroundTruthWindow extends GroundTruthStream {
  readonly from: number | Date;
  readonly to: number | Date;
}

export interface TickBase {
  readonly exchange: string;
  /** Lower case, e.g. 'btcusdt'. */
  readonly symbol: string;
  /** Position k of the tick in its stream, counted from the epoch. */
  readonly index: number;
  /** Exchange timestamp, epoch ms. */
  readonly timestamp: number;
  /** Seeded 32-bit value for wire-level extras (local receive jitter etc.) that must also be deterministic. */
  readonly nonce: number;
}

export interface Trade extends TickBase {
  readonly kind: 'trade';
  /** Sequential per symbol: index + 1. */
  readonly id: number;
  /** Decimal string as Binance sends it, e.g. "37000.10". */
  readonly price: string;
  readonly qty: string;
  /** true: the buyer was the maker, i.e. a sell aggressor (tardis side 'sell'). */
  readonly isBuyerMaker: boolean;
}

export interface BookTicker extends TickBase {
  readonly kind: 'bookTicker';
  /** Sequential per symbol: index + 1 (Binance `u`). */
  readonly updateId: number;
  readonly bidPrice: string;
  readonly bidQty: string;
  readonly askPrice: string;
  readonly askQty: string;
}

/** One price level as exchanges send it: [price, size] decimal strings; size "0" removes the level. */
export type BookLevel = readonly [price: string, size: string];

export interface BookChange extends TickBase {
  readonly kind: 'bookChange';
  /** Sequential per symbol: index + 1 (Binance `U` = `u`; the book after it has lastUpdateId = updateId). */
  readonly updateId: number;
  /** Changed bid levels, best (highest) first. */
  readonly bids: readonly BookLevel[];
  /** Changed ask levels, best (lowest) first. */
  readonly asks: readonly BookLevel[];
}

/** The whole book after every update with id <= lastUpdateId (Binance REST depth, Coinbase snapshot). */
export interface BookSnapshot {
  readonly exchange: string;
  readonly symbol: string;
  /** Id of the last update included (0: none, the initial book). */
  readonly lastUpdateId: number;
  /** Best first. */
  readonly bids: readonly BookLevel[];
  readonly asks: readonly BookLevel[];
}

export type Tick = Trade | BookTicker | BookChange | DerivativeTicker | Liquidation;
export type TickOf<K extends TickKind> = Extract<Tick, { kind: K }>;

/** Price and size grid of a symbol. */
export interface SymbolSpec {
  readonly basePrice: number;
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  /** Mean trade size in base units. */
  readonly meanQty: number;
}

/** Inclusive range of ids; empty when lastId < firstId. */
export interface IdRange {
  readonly firstId: number;
  readonly lastId: number;
}

const KNOWN_SPECS: Readonly<Record<string, SymbolSpec>> = {
  btcusdt: { basePrice: 37000, priceDecimals: 2, qtyDecimals: 5, meanQty: 0.02 },
  ethusdt: { basePrice: 2000, priceDecimals: 2, qtyDecimals: 4, meanQty: 0.3 },
  'btc-usd': { basePrice: 37000, priceDecimals: 2, qtyDecimals: 8, meanQty: 0.02 },
  'eth-usd': { basePrice: 2000, priceDecimals: 2, qtyDecimals: 8, meanQty: 0.3 },
};

const DERIVED_BASE_PRICES = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

/** The price grid of a symbol: fixed for well-known symbols, seeded otherwise. */
export function symbolSpec(seed: number, exchange: string, symbol: string): SymbolSpec {
  const lower = symbol.toLowerCase();
  const known = KNOWN_SPECS[lower];
  if (known !== undefined) return known;
  const h = fnv1a32(`${seed}|${exchange}|${lower}|spec`);
  const basePrice = DERIVED_BASE_PRICES[h % DERIVED_BASE_PRICES.length] ?? 100;
  return {
    basePrice,
    priceDecimals: 2,
    qtyDecimals: 3,
    meanQty: Math.max(0.001, Math.round(2000 / basePrice)),
  };
}

// ---------------------------------------------------------------------------------------------------
// Order book: grid point j in [0, 2 * BOOK_LEVELS_PER_SIDE); j < BOOK_LEVELS_PER_SIDE is the bid
// `base - 1 - j` ticks, the others the ask `base + 1 + (j - BOOK_LEVELS_PER_SIDE)` ticks, so bids stay
// below asks. Update k (cycle c = floor(k / M), M grid points) touches point k mod M and point
// (k mod M + 1 + c mod (M - 1)) mod M: two distinct points, each point exactly twice per cycle, so the
// number of touches of a point up to any update is O(1) to count. A point's size after its n-th touch
// is a seeded function of (point, n); an odd n may remove it (size 0), an even n never does, so no
// update removes a level that is already absent.

const BOOK_POINTS = 2 * BOOK_LEVELS_PER_SIDE;

interface BookModel {
  readonly key: number;
  readonly baseTicks: number;
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  readonly meanLots: number;
}

function bookModel(stream: GroundTruthStream, spec: SymbolSpec): BookModel {
  return {
    key: fnv1a32(`${stream.seed}|${stream.exchange}|${stream.symbol.toLowerCase()}|book`),
    baseTicks: Math.round(spec.basePrice * 10 ** spec.priceDecimals),
    priceDecimals: spec.priceDecimals,
    qtyDecimals: spec.qtyDecimals,
    meanLots: Math.max(1, Math.round(spec.meanQty * 10 ** spec.qtyDecimals)),
  };
}

const positiveMod = (a: number, m: number): number => ((a % m) + m) % m;

/** The two grid points update k touches (always distinct). */
export function bookTouches(k: number): readonly [number, number] {
  const a = k % BOOK_POINTS;
  const c = Math.floor(k / BOOK_POINTS);
  return [a, (a + 1 + (c % (BOOK_POINTS - 1))) % BOOK_POINTS];
}

/** How many of the updates 0..k (inclusive) touch grid point j; 0 for k < 0. */
function touchesUpTo(j: number, k: number): number {
  if (k < 0) return 0;
  const cycles = Math.floor((k + 1) / BOOK_POINTS);
  const rest = k + 1 - cycles * BOOK_POINTS; // updates of the partial cycle `cycles`: offsets [0, rest)
  let n = 2 * cycles;
  if (rest > 0) {
    if (j < rest) n++;
    if (positiveMod(j - 1 - (cycles % (BOOK_POINTS - 1)), BOOK_POINTS) < rest) n++;
  }
  return n;
}

/** Size of grid point j after its n-th touch, in lots (0: absent). */
function bookLots(model: BookModel, j: number, n: number): number {
  const rnd = indexRandom((model.key ^ fmix32(j + 1)) >>> 0, n);
  const removeDraw = rnd();
  if (n % 2 === 1 && removeDraw % 3 === 0) return 0;
  return 1 + Math.floor(6 * model.meanLots * unit(rnd()));
}

function bookLevel(model: BookModel, j: number, lots: number): BookLevel {
  const ticks =
    j < BOOK_LEVELS_PER_SIDE ? model.baseTicks - 1 - j : model.baseTicks + 1 + (j - BOOK_LEVELS_PER_SIDE);
  return [formatUnits(Math.max(1, ticks), model.priceDecimals), formatUnits(lots, model.qtyDecimals)];
}

/** Levels of grid points sorted best first: bids by descending, asks by ascending price. */
function sideLevels(
  model: BookModel,
  points: readonly { j: number; lots: number }[],
): {
  bids: BookLevel[];
  asks: BookLevel[];
} {
  const sorted = [...points].sort((x, y) => x.j - y.j);
  const bids: BookLevel[] = [];
  const asks: BookLevel[] = [];
  for (const { j, lots } of sorted) (j < BOOK_LEVELS_PER_SIDE ? bids : asks).push(bookLevel(model, j, lots));
  return { bids, asks };
}

/** The book after every update with index < `index` (lastUpdateId = index). */
function bookAt(model: BookModel, exchange: string, symbol: string, index: number): BookSnapshot {
  const points: { j: number; lots: number }[] = [];
  for (let j = 0; j < BOOK_POINTS; j++) {
    const lots = bookLots(model, j, touchesUpTo(j, index - 1));
    if (lots > 0) points.push({ j, lots });
  }
  return { exchange, symbol, lastUpdateId: Math.max(0, index), ...sideLevels(model, points) };
}

// ---------------------------------------------------------------------------------------------------
// Tick sources.

/** Generates the ticks of one (stream, kind); cheap to create, holds only precomputed keys. */
export interface TickSource<K extends TickKind> {
  readonly kind: K;
  readonly stream: GroundTruthStream;
  /** Index of the first tick whose timestamp is >= t (epoch ms). */
  indexAtOrAfter(t: number | Date): number;
  /** Timestamp (epoch ms) of tick `index`. */
  timestampOf(index: number): number;
  tick(index: number): TickOf<K>;
  /** Ticks with index in [first, end). */
  ticks(first: number, end: number): TickOf<K>[];
}

export interface SourceContext {
  readonly stream: GroundTruthStream;
  readonly symbol: string;
  readonly spec: SymbolSpec;
  readonly price: PriceModel;
  readonly scheduleKey: number;
  readonly rate: number;
  readonly book: BookModel;
}

type Generator<K extends TickKind> = (
  ctx: SourceContext,
  index: number,
  timestamp: number,
  rnd: () => number,
) => TickOf<K>;

const GENERATORS: { readonly [K in TickKind]: Generator<K> } = {
  trade(ctx, index, timestamp, rnd) {
    const nonce = rnd();
    const isBuyerMaker = (rnd() & 1) === 1;
    const meanLots = Math.max(1, Math.round(ctx.spec.meanQty * 10 ** ctx.spec.qtyDecimals));
    // Product of two uniforms: mean 1/4, skewed to small sizes like real trade sizes.
    const lots = 1 + Math.floor(4 * meanLots * unit(rnd()) * unit(rnd()));
    // A sell aggressor hits the bid (mid), a buy aggressor lifts the ask (mid + 1 tick).
    const priceTicks = midTicksAt(ctx.price, timestamp) + (isBuyerMaker ? 0 : 1);
    return {
      kind: 'trade',
      exchange: ctx.stream.exchange,
      symbol: ctx.symbol,
      index,
      timestamp,
      nonce,
      id: index + 1,
      price: formatUnits(priceTicks, ctx.spec.priceDecimals),
      qty: formatUnits(lots, ctx.spec.qtyDecimals),
      isBuyerMaker,
    };
  },
  bookTicker(ctx, index, timestamp, rnd) {
    const nonce = rnd();
    const mid = midTicksAt(ctx.price, timestamp);
    const shape = rnd();
    const bidTicks = Math.max(1, mid - (shape & 1));
    const askTicks = mid + 1 + ((shape >>> 1) % 3 === 0 ? 1 : 0);
    const meanLots = Math.max(1, Math.round(ctx.spec.meanQty * 10 ** ctx.spec.qtyDecimals));
    const bidLots = 1 + Math.floor(8 * meanLots * unit(rnd()));
    const askLots = 1 + Math.floor(8 * meanLots * unit(rnd()));
    return {
      kind: 'bookTicker',
      exchange: ctx.stream.exchange,
      symbol: ctx.symbol,
      index,
      timestamp,
      nonce,
      updateId: index + 1,
      bidPrice: formatUnits(bidTicks, ctx.spec.priceDecimals),
      bidQty: formatUnits(bidLots, ctx.spec.qtyDecimals),
      askPrice: formatUnits(askTicks, ctx.spec.priceDecimals),
      askQty: formatUnits(askLots, ctx.spec.qtyDecimals),
    };
  },
  bookChange(ctx, index, timestamp, rnd) {
    const nonce = rnd();
    const points = bookTouches(index).map((j) => ({
      j,
      lots: bookLots(ctx.book, j, touchesUpTo(j, index)),
    }));
    return {
      kind: 'bookChange',
      exchange: ctx.stream.exchange,
      symbol: ctx.symbol,
      index,
      timestamp,
      nonce,
      updateId: index + 1,
      ...sideLevels(ctx.book, points),
    };
  },
  derivativeTicker,
  liquidation,
};

function assertStream(stream: GroundTruthStream): void {
  if (!Number.isFinite(stream.rate) || stream.rate <= 0 || stream.rate > MAX_RATE_PER_SYMBOL) {
    throw new RangeError(`rate must be in (0, ${MAX_RATE_PER_SYMBOL}] ticks/s, got ${stream.rate}`);
  }
  if (!Number.isSafeInteger(stream.seed)) throw new RangeError(`seed must be an integer, got ${stream.seed}`);
  if (stream.symbol.length === 0) throw new RangeError('symbol must not be empty');
}

/** A kind's ticks per second on a stream of `rate`: the derivatives kinds have modest caps of their own. */
export function kindRate(kind: TickKind, rate: number): number {
  return kind === 'derivativeTicker' || kind === 'liquidation' ? Math.min(rate, KIND_MAX_RATE[kind]) : rate;
}

const toMs = (t: number | Date): number => (typeof t === 'number' ? t : t.getTime());

/** Creates the tick source of one stream and kind. */
export function tickSource<K extends TickKind>(kind: K, stream: GroundTruthStream): TickSource<K> {
  assertStream(stream);
  const symbol = stream.symbol.toLowerCase();
  const spec = symbolSpec(stream.seed, stream.exchange, symbol);
  const ctx: SourceContext = {
    stream,
    symbol,
    spec,
    price: priceModel(stream, spec),
    scheduleKey: fnv1a32(`${stream.seed}|${stream.exchange}|${symbol}|${kind}`),
    rate: kindRate(kind, stream.rate),
    book: bookModel(stream, spec),
  };
  const generate = GENERATORS[kind] as Generator<K>;
  const slotStart = (k: number): number => Math.floor((k * 1000) / ctx.rate);
  const place = (k: number, jitter: number): number => {
    const start = slotStart(k);
    return GROUND_TRUTH_EPOCH_MS + start + Math.floor(unit(jitter) * (slotStart(k + 1) - start));
  };
  const timestampOf = (k: number): number => place(k, indexRandom(ctx.scheduleKey, k)());
  const tick = (k: number): TickOf<K> => {
    const rnd = indexRandom(ctx.scheduleKey, k);
    const timestamp = place(k, rnd());
    return generate(ctx, k, timestamp, rnd);
  };
  return {
    kind,
    stream,
    timestampOf,
    tick,
    indexAtOrAfter(t) {
      const target = Math.ceil(toMs(t));
      const offset = target - GROUND_TRUTH_EPOCH_MS;
      if (offset <= 0) return 0;
      let k = Math.floor((offset * ctx.rate) / 1000);
      // Float rounding can put k one slot off; walk to the slot that contains `offset`.
      while (k > 0 && slotStart(k) > offset) k--;
      while (slotStart(k + 1) <= offset) k++;
      return timestampOf(k) >= target ? k : k + 1;
    },
    ticks(first, end) {
      const out: TickOf<K>[] = [];
      for (let k = Math.max(0, first); k < end; k++) out.push(tick(k));
      return out;
    },
  };
}

/** Index range [first, end) of the ticks of `kind` whose timestamp is in [from, to). */
export function indexRange(kind: TickKind, window: GroundTruthWindow): { first: number; end: number } {
  const source = tickSource(kind, window);
  const first = source.indexAtOrAfter(window.from);
  return { first, end: Math.max(first, source.indexAtOrAfter(window.to)) };
}

/** All ticks of `kind` with timestamp in [from, to), in order. */
export function ticksBetween<K extends TickKind>(kind: K, window: GroundTruthWindow): TickOf<K>[] {
  const source = tickSource(kind, window);
  const first = source.indexAtOrAfter(window.from);
  return source.ticks(first, source.indexAtOrAfter(window.to));
}

/** The exact trades of a symbol with exchange timestamp in [from, to). */
export function tradesBetween(window: GroundTruthWindow): Trade[] {
  return ticksBetween('trade', window);
}

/** The exact best bid/ask updates of a symbol with exchange timestamp in [from, to). */
export function bookTickerBetween(window: GroundTruthWindow): BookTicker[] {
  return ticksBetween('bookTicker', window);
}

/** The order book updates of a symbol with exchange timestamp in [from, to). */
export function bookChangesBetween(window: GroundTruthWindow): BookChange[] {
  return ticksBetween('bookChange', window);
}

/** The derivatives tickers (funding, mark, index, open interest, last) of a symbol in [from, to). */
export function derivativeTickersBetween(window: GroundTruthWindow): DerivativeTicker[] {
  return ticksBetween('derivativeTicker', window);
}

/** The liquidations of a symbol with exchange timestamp in [from, to). */
export function liquidationsBetween(window: GroundTruthWindow): Liquidation[] {
  return ticksBetween('liquidation', window);
}

/**
 * The whole order book after every update with id <= lastUpdateId, in O(levels) for any id: what a
 * Binance REST depth request or a Coinbase level2 snapshot answers at that point.
 */
export function bookSnapshot(stream: GroundTruthStream, lastUpdateId: number): BookSnapshot {
  assertStream(stream);
  const symbol = stream.symbol.toLowerCase();
  const model = bookModel(stream, symbolSpec(stream.seed, stream.exchange, symbol));
  return bookAt(model, stream.exchange, symbol, Math.max(0, Math.floor(lastUpdateId)));
}

/** The order book just before instant t (epoch ms): every update with timestamp < t applied. */
export function bookSnapshotBefore(stream: GroundTruthStream, t: number | Date): BookSnapshot {
  return bookSnapshot(stream, tickSource('bookChange', stream).indexAtOrAfter(t));
}

/** Applies updates to a snapshot as a client would (size "0" removes); the result is sorted best first. */
export function applyBookChanges(snapshot: BookSnapshot, updates: readonly BookChange[]): BookSnapshot {
  const bids = new Map(snapshot.bids.map(([p, q]) => [p, q]));
  const asks = new Map(snapshot.asks.map(([p, q]) => [p, q]));
  let lastUpdateId = snapshot.lastUpdateId;
  for (const update of updates) {
    for (const [side, levels] of [
      [bids, update.bids],
      [asks, update.asks],
    ] as const) {
      for (const [p, q] of levels) {
        if (Number(q) === 0) side.delete(p);
        else side.set(p, q);
      }
    }
    lastUpdateId = update.updateId;
  }
  const byPrice = (m: Map<string, string>, dir: number): BookLevel[] =>
    [...m.entries()].sort((a, b) => dir * (Number(a[0]) - Number(b[0]))).map(([p, q]) => [p, q] as const);
  return { ...snapshot, lastUpdateId, bids: byPrice(bids, -1), asks: byPrice(asks, 1) };
}

/** Trade ids in [from, to) without generating the trades: O(1) for any window length. */
export function tradeIdRange(window: GroundTruthWindow): IdRange & { count: number } {
  const { first, end } = indexRange('trade', window);
  return { firstId: first + 1, lastId: end, count: end - first };
}

/** The trades with ids in [firstId, lastId] (inclusive), e.g. to expand a simulator's sent ranges. */
export function tradesByIdRange(stream: GroundTruthStream, range: IdRange): Trade[] {
  return tickSource('trade', stream).ticks(range.firstId - 1, range.lastId);
}

/** Merges id ranges into sorted, disjoint, non-adjacent ranges. */
export function mergeIdRanges(ranges: readonly IdRange[]): IdRange[] {
  const sorted = ranges.filter((r) => r.lastId >= r.firstId).sort((a, b) => a.firstId - b.firstId);
  const out: { firstId: number; lastId: number }[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last !== undefined && r.firstId <= last.lastId + 1) last.lastId = Math.max(last.lastId, r.lastId);
    else out.push({ firstId: r.firstId, lastId: r.lastId });
  }
  return out;
}
