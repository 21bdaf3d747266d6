import test from 'ava';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { BookChangeTick, PriceLevel, Tick } from '../../functions/core/model/tick.ts';
import {
  bookChangesBetween,
  bookSnapshot,
  tickSource,
  type BookLevel,
  type GroundTruthStream,
  type IdRange,
} from '../../scripts/local/exchange/ground-truth.ts';
import { startHistoryServer, type HistoryServer } from '../../scripts/local/exchange/history-server.ts';
import { startSimulator, type SimulatedExchange } from '../../scripts/local/exchange/simulator.ts';
import { historyTicks } from '../support/history-ticks.ts';
import { drainRelay, relayOnSimulator, type PulledBatch } from '../support/relay.ts';

const SEED = 47;
const RATE = 50;
const MARKETS = [
  { exchange: 'binance', symbol: 'btcusdt' },
  { exchange: 'coinbase', symbol: 'btc-usd' },
] as const satisfies readonly { exchange: SimulatedExchange; symbol: string }[];
const STREAMS = 'binance:btcusdt:book_change;coinbase:btc-usd:book_change';
/** Updates each stream must have delivered after its snapshot before the relay is stopped. */
const MIN_UPDATES = 150;
const MINUTE = 60_000;

const streamOf = (m: (typeof MARKETS)[number]) => `${m.exchange}:${m.symbol}:book_change`;
const bookTicks = (batches: readonly PulledBatch[]): BookChangeTick[] =>
  batches.flatMap((b) => b.ticks).filter((x): x is BookChangeTick => x.type === 'book_change');

/** Ground-truth levels as tardis-dev normalizes them. */
const levels = (list: readonly BookLevel[]): PriceLevel[] =>
  list.map(([p, q]) => ({ price: Number(p), amount: Number(q) }));

/**
 * A book as a client holds it: levels with a size, best first. tardis-dev's Binance mapper merges the
 * updates it buffered before the REST snapshot into it in arrival order and keeps removed ones as size 0.
 */
const held = (list: readonly PriceLevel[], side: 'bids' | 'asks'): PriceLevel[] =>
  list.filter((l) => l.amount > 0).sort((a, b) => (side === 'bids' ? b.price - a.price : a.price - b.price));

/** The ground-truth index of an update tick: exchange time in whole ms is unique per update. */
const indexOf = (truth: GroundTruthStream, tick: Tick) =>
  tickSource('bookChange', truth).indexAtOrAfter(Math.floor(tick.ts / 1000));

const within = (ranges: readonly IdRange[], id: number) =>
  ranges.some((r) => id >= r.firstId && id <= r.lastId);

/** The gap-filler's read path of the stream's book changes (historyTicks). */
const backfill = async (history: HistoryServer, exchange: string, symbol: string, from: number, to: number) =>
  (await historyTicks(history, exchange, symbol, 'book_change', from, to)) as {
    rowId: string;
    tick: BookChangeTick;
  }[];

test('book_change streams of both exchanges carry the simulator book: one snapshot, then every update once with equal levels, and a backfill adds only its own snapshots', async (t) => {
  const symbols = MARKETS.map((m) => m.symbol);
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, symbols });
  t.teardown(() => sim.stop());
  const history = await startHistoryServer({ seed: SEED, ratePerSymbol: RATE, symbols });
  t.teardown(() => history.stop());
  const { relay, collector } = await relayOnSimulator(t, 'relay-book-change', sim, STREAMS);

  // Counted as the assertions below count them: distinct batches (a redelivery once), the snapshot apart.
  const enough = () =>
    MARKETS.every(
      (m) => bookTicks(collector.of(streamOf(m))).filter((x) => !x.isSnapshot).length > MIN_UPDATES,
    );
  t.true(
    await collector.until(enough, 60_000),
    `${MIN_UPDATES} updates per stream; log: ${relay.service.tail()}`,
  );

  // Freeze the market, then drain the relay: every batch it acknowledged must be pulled.
  await drainRelay(t, sim, relay, collector);

  const snapshotsServed = sim.bookSnapshots();
  for (const market of MARKETS) {
    const { exchange, symbol } = market;
    const truth = sim.groundTruth(symbol, exchange);
    const batches = collector.of(streamOf(market));
    const ticks = bookTicks(batches);
    const ids = ticks.map(rowId);
    t.is(new Set(ids).size, ids.length, `${exchange}: every row id once`);
    for (const b of batches) {
      b.ticks.forEach((x, i) => {
        const carried = (b.rowIds as readonly (string | undefined)[])[i];
        if (carried !== undefined) t.is(carried, rowId(x));
      });
    }

    // One connection, so one snapshot, and it comes first.
    t.is(sim.connections().filter((c) => c.exchange === exchange).length, 1, `${exchange}: one connection`);
    const [snapshot, ...updates] = ticks;
    t.true(snapshot!.isSnapshot, `${exchange}: the stream opens with the snapshot`);
    t.false(
      updates.some((u) => u.isSnapshot),
      `${exchange}: no other snapshot`,
    );
    t.true(updates.length > MIN_UPDATES);

    // Updates: consecutive ground-truth updates from the first after the snapshot, levels equal.
    const first = indexOf(truth, updates[0]!);
    const expected = tickSource('bookChange', truth).ticks(first, first + updates.length);
    t.deepEqual(
      updates.map((u) => [Math.floor(u.ts / 1000), u.bids, u.asks]),
      expected.map((g) => [g.timestamp, levels(g.bids), levels(g.asks)]),
      `${exchange}: every update once, in order, with the ground truth's levels`,
    );
    const sent = sim.sentBookChanges(symbol, exchange);
    t.true(
      expected.every((g) => within(sent, g.updateId)),
      `${exchange}: received is a subset of sent`,
    );

    // The snapshot is the ground-truth book just before the first update the stream carries.
    const served = snapshotsServed.filter((s) => s.exchange === exchange);
    t.is(served.length, 1, `${exchange}: one snapshot served`);
    const book = bookSnapshot(truth, first);
    t.deepEqual(
      [held(snapshot!.bids, 'bids'), held(snapshot!.asks, 'asks')],
      [levels(book.bids), levels(book.asks)],
      `${exchange}: snapshot levels`,
    );
    if (exchange === 'coinbase') {
      // Coinbase: the level2 snapshot, then the updates after it; stamped with the snapshot's time.
      t.is(first, served[0]!.lastUpdateId);
      t.is(snapshot!.ts, served[0]!.at * 1000);
    } else {
      // Binance: the REST snapshot plus the updates tardis-dev buffered before it (merged into it, never
      // emitted alone), stamped with the local receive time (spot depth has no exchange time).
      t.true(first >= served[0]!.lastUpdateId, 'updates after the REST snapshot only');
      t.true(first - served[0]!.lastUpdateId < RATE * 5, 'a few buffered updates at most');
      t.is(snapshot!.ts, snapshot!.localTs);
    }

    // Backfill of the minute before the live data up to its last update, as the gap-filler reads it.
    const from = Math.floor(updates[0]!.ts / 1000) - MINUTE;
    const to = Math.floor(updates.at(-1)!.ts / 1000) + 1;
    const filled = await backfill(history, exchange, symbol, from, to);
    const filledUpdates = filled.filter((f) => !f.tick.isSnapshot);
    t.deepEqual(
      filledUpdates.map((f) => [Math.floor(f.tick.ts / 1000), f.tick.bids, f.tick.asks]),
      bookChangesBetween({ ...truth, from, to }).map((g) => [g.timestamp, levels(g.bids), levels(g.asks)]),
      `${exchange}: the backfill carries every update of its window`,
    );
    const filledIds = new Set(filled.map((f) => f.rowId));
    t.true(
      updates.every((u) => filledIds.has(rowId(u))),
      `${exchange}: a backfilled update has the live row id of the same update`,
    );
    // Snapshots never share an id: the recorder's are at minute starts (Coinbase yields each in the
    // window; Binance's mapper only the first of a replay, which lies before the window unless the
    // window starts on the minute), the relay's at its connect.
    const minuteStarts: number[] = [];
    for (let m = Math.ceil(from / MINUTE) * MINUTE; m < to; m += MINUTE) minuteStarts.push(m);
    const expectedSnapshots = exchange === 'coinbase' ? minuteStarts : from % MINUTE === 0 ? [from] : [];
    const filledSnapshots = filled.filter((f) => f.tick.isSnapshot);
    t.deepEqual(
      filledSnapshots.map((f) => f.tick.localTs / 1000),
      expectedSnapshots,
      `${exchange}: backfilled snapshots`,
    );
    for (const f of filledSnapshots) {
      const at = f.tick.localTs / 1000;
      const truthBook = bookSnapshot(truth, tickSource('bookChange', truth).indexAtOrAfter(at));
      t.deepEqual([f.tick.bids, f.tick.asks], [levels(truthBook.bids), levels(truthBook.asks)]);
    }
    t.false(filledIds.has(rowId(snapshot!)), `${exchange}: the live snapshot is not in the backfill`);
    // What book_changes_dedup then holds for the stream (one row per row id): the window's updates
    // once each, the live snapshot, and the backfill's snapshots.
    const dedup = new Set([...ids, ...filledIds]);
    t.is(dedup.size, filledUpdates.length + 1 + filledSnapshots.length, `${exchange}: dedup view rows`);
  }
});
