import type { ExecutionContext } from 'ava';
import type { BookChangeTick, PriceLevel } from '../../functions/core/model/tick.ts';
import {
  bookSnapshot,
  tickSource,
  type BookLevel,
  type BookTicker,
  type GroundTruthStream,
  type Trade,
} from '../../scripts/local/exchange/ground-truth.ts';

/** Ground-truth levels (decimal strings) as a normalized tick holds them. */
export const levels = (list: readonly BookLevel[]): PriceLevel[] =>
  list.map(([price, amount]) => ({ price: Number(price), amount: Number(amount) }));

/** The levels a book holds (a snapshot row keeps removed levels at amount 0). */
export const held = (list: readonly PriceLevel[]): PriceLevel[] => list.filter((l) => l.amount > 0);

/** A ground-truth trade as [id, price, amount, side, ts µs], the fields a normalized trade carries. */
export const tradeRow = (g: Trade): unknown[] => [
  String(g.id),
  Number(g.price),
  Number(g.qty),
  g.isBuyerMaker ? 'sell' : 'buy',
  g.timestamp * 1000,
];

/** A ground-truth quote as [bid, bid amount, ask, ask amount, ts µs]. */
export const quoteRow = (g: BookTicker): unknown[] => [
  Number(g.bidPrice),
  Number(g.bidQty),
  Number(g.askPrice),
  Number(g.askQty),
  g.timestamp * 1000,
];

/**
 * Checks a relay's book changes of one connection against the ground truth: a snapshot holding the book
 * before the first update, then every update once, in order.
 */
export function checkBookAsSent(
  t: ExecutionContext,
  truth: GroundTruthStream,
  ticks: readonly BookChangeTick[],
): void {
  const [snapshot, ...updates] = ticks;
  const source = tickSource('bookChange', truth);
  const first = source.indexAtOrAfter(updates[0]!.ts / 1000);
  const book = bookSnapshot(truth, first);
  t.true(snapshot!.isSnapshot);
  t.deepEqual([held(snapshot!.bids), held(snapshot!.asks)], [levels(book.bids), levels(book.asks)]);
  t.deepEqual(
    updates.map((x) => [x.isSnapshot, x.bids, x.asks, x.ts / 1000]),
    source
      .ticks(first, first + updates.length)
      .map((g) => [false, levels(g.bids), levels(g.asks), g.timestamp]),
  );
}
