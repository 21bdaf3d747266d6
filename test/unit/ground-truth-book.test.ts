import test from 'ava';
import {
  applyBookChanges,
  BOOK_LEVELS_PER_SIDE,
  bookChangesBetween,
  bookSnapshot,
  bookSnapshotBefore,
  bookTouches,
  tickSource,
  type BookChange,
  type GroundTruthStream,
} from '../../scripts/local/exchange/ground-truth.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';

const BTC: GroundTruthStream = { seed: 7, exchange: 'binance', symbol: 'btcusdt', rate: 50 };
const T0 = Date.UTC(2024, 2, 1, 12, 0, 0);

test('the same seed gives the same order book updates and another seed another book', (t) => {
  const window = { ...BTC, from: T0, to: T0 + 2_000 };
  const a = bookChangesBetween(window);
  t.true(a.length >= 90);
  t.deepEqual(bookChangesBetween(window), a);
  const other = bookChangesBetween({ ...window, seed: 8 });
  t.notDeepEqual(
    other.map((u) => [u.bids, u.asks]),
    a.map((u) => [u.bids, u.asks]),
  );
});

test('update ids are index + 1 and every update changes one or two levels, bids below asks', (t) => {
  const updates = bookChangesBetween({ ...BTC, from: T0, to: T0 + 10_000 });
  const source = tickSource('bookChange', BTC);
  t.is(updates[0]!.updateId, source.indexAtOrAfter(T0) + 1);
  for (const [i, u] of updates.entries()) {
    if (i > 0) t.is(u.updateId, updates[i - 1]!.updateId + 1);
    const levels = u.bids.length + u.asks.length;
    t.true(levels >= 1 && levels <= 2, `update ${u.updateId} changes ${levels} levels`);
    for (const [p] of u.bids) t.true(Number(p) < 37_000);
    for (const [p] of u.asks) t.true(Number(p) > 37_000);
  }
});

test('each update touches two distinct grid points, each point twice per cycle', (t) => {
  const points = 2 * BOOK_LEVELS_PER_SIDE;
  for (const cycle of [0, 1, 77, 123_456_789]) {
    const counts = new Array<number>(points).fill(0);
    for (let k = cycle * points; k < (cycle + 1) * points; k++) {
      const [a, b] = bookTouches(k);
      t.not(a, b);
      counts[a]!++;
      counts[b]!++;
    }
    t.deepEqual(counts, new Array<number>(points).fill(2), `cycle ${cycle}`);
  }
});

test('a snapshot plus the updates after it equals the snapshot at any later update', (t) => {
  const source = tickSource('bookChange', BTC);
  const random = seededRandom(42);
  // From the epoch, around cycle boundaries, and at today's index magnitudes (beyond 2^32).
  const starts = [0, 39, 40, 41, 1234, source.indexAtOrAfter(T0), 5_000_000_123];
  for (let i = 0; i < 6; i++) starts.push(Math.floor(random() * 1e10));
  for (const start of starts) {
    const length = 1 + Math.floor(random() * 300);
    const updates = source.ticks(start, start + length);
    const rebuilt = applyBookChanges(bookSnapshot(BTC, start), updates);
    t.deepEqual(rebuilt, bookSnapshot(BTC, start + length), `from update ${start}, ${length} updates`);
  }
});

test('updates change, remove and add levels, and never remove a level that is absent', (t) => {
  const source = tickSource('bookChange', BTC);
  const first = source.indexAtOrAfter(T0);
  let book = bookSnapshot(BTC, first);
  t.is(book.bids.length + book.asks.length > BOOK_LEVELS_PER_SIDE, true);
  const seen = { changed: 0, removed: 0, added: 0 };
  for (const update of source.ticks(first, first + 2_000) as BookChange[]) {
    const present = new Set([...book.bids, ...book.asks].map(([p]) => p));
    for (const [p, q] of [...update.bids, ...update.asks]) {
      if (Number(q) === 0) {
        t.true(present.has(p), `update ${update.updateId} removes absent level ${p}`);
        seen.removed++;
      } else if (present.has(p)) seen.changed++;
      else seen.added++;
    }
    book = applyBookChanges(book, [update]);
  }
  t.true(seen.changed > 100 && seen.removed > 100 && seen.added > 100, JSON.stringify(seen));
  for (const level of [...book.bids, ...book.asks]) t.true(Number(level[1]) > 0);
});

test('any time window is reproducible alone: split windows concatenate to the whole', (t) => {
  const whole = bookChangesBetween({ ...BTC, from: T0, to: T0 + 60_000 });
  const parts = [T0, T0 + 7_777, T0 + 30_000, T0 + 59_999, T0 + 60_000];
  const joined = parts
    .slice(0, -1)
    .flatMap((from, i) => bookChangesBetween({ ...BTC, from, to: parts[i + 1]! }));
  t.deepEqual(joined, whole);
  // The book before an instant holds exactly the updates stamped before it.
  const before = bookSnapshotBefore(BTC, T0 + 30_000);
  const inFirstHalf = whole.filter((u) => u.timestamp < T0 + 30_000);
  t.is(before.lastUpdateId, inFirstHalf.at(-1)!.updateId);
  t.deepEqual(applyBookChanges(bookSnapshotBefore(BTC, T0), inFirstHalf), before);
});

test('coinbase and binance books of the same seed are different markets', (t) => {
  const binance = bookSnapshot(BTC, 1000);
  const coinbase = bookSnapshot({ ...BTC, exchange: 'coinbase', symbol: 'btc-usd' }, 1000);
  t.is(coinbase.symbol, 'btc-usd');
  t.notDeepEqual(
    coinbase.bids.map(([, q]) => q),
    binance.bids.map(([, q]) => q),
  );
});
