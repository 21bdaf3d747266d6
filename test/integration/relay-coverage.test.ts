import test from 'ava';
import { SCHEMA_VERSION } from '../../functions/core/contract/wire-layout.ts';
import type { QuoteTick, TradeTick } from '../../functions/core/model/tick.ts';
import { startSimulator, type ConnectionRecord } from '../../scripts/local/exchange/simulator.ts';
import { tradesByIdRange, type IdRange } from '../../scripts/local/exchange/ground-truth.ts';
import { drainRelay, mergedWindows, relayOnSimulator, type PulledBatch } from '../support/relay.ts';

const BINANCE = ['btcusdt', 'ethusdt'];
/** Configured but silent at the simulator: its coverage is proven by heartbeats alone. */
const QUIET = 'xrpusdt';
const COINBASE = ['btc-usd'];
const STREAMS = `binance:${[...BINANCE, QUIET].join(',')}:trade,book_ticker;coinbase:${COINBASE.join(',')}:trade,book_ticker`;

const receivedMs = (b: PulledBatch) => b.ticks.map((x) => Math.floor(x.localTs / 1000));

function ids(ranges: readonly IdRange[]): number[] {
  return ranges.flatMap((r) => Array.from({ length: r.lastId - r.firstId + 1 }, (_, i) => r.firstId + i));
}

test('a dropped exchange connection leaves exactly the outage uncovered and coverage resumes after reconnect', async (t) => {
  const sim = await startSimulator({ seed: 31, ratePerSymbol: 200, symbols: [...BINANCE, ...COINBASE] });
  t.teardown(() => sim.stop());
  const { relay, collector } = await relayOnSimulator(t, 'relay-coverage', sim, STREAMS);

  const coveredSince = (since: number) => (batches: readonly PulledBatch[]) =>
    ['binance:btcusdt:trade', 'coinbase:btc-usd:trade', `binance:${QUIET}:book_ticker`].every((id) =>
      batches.some(
        (b) => `${b.stream.exchange}:${b.stream.symbol}:${b.stream.type}` === id && b.window.from >= since,
      ),
    );
  t.true(await collector.until(coveredSince(Date.now() + 1500), 30_000), 'covering before the drop');

  t.is(sim.dropAll('terminate'), 2, 'one connection per exchange');
  const dropAt = Date.now();
  t.true(await collector.until(coveredSince(dropAt + 1500), 30_000), 'coverage resumed after the drop');

  // Freeze the market with the sockets open, then drain the relay: all it received must arrive.
  const counters = await drainRelay(t, sim, relay, collector);
  t.true(counters.disconnects! >= 2);

  for (const exchange of ['binance', 'coinbase'] as const) {
    const records = sim.connections().filter((c) => c.exchange === exchange);
    t.true(records.length >= 2, `${exchange} reconnected`);
    const [first, second] = records as [ConnectionRecord, ConnectionRecord];
    const closedAt = first.closedAt!;
    const symbols = exchange === 'binance' ? [...BINANCE, QUIET] : COINBASE;
    const all = symbols.flatMap((s) =>
      ['trade', 'book_ticker'].flatMap((k) => collector.of(`${exchange}:${s}:${k}`)),
    );
    // Ticks before the first window after the hole came on the lost connection; the last one is the
    // evidence the hole starts from.
    const streamIds = symbols.flatMap((s) => ['trade', 'book_ticker'].map((k) => `${exchange}:${s}:${k}`));
    const reopened = Math.min(...streamIds.map((id) => mergedWindows(collector.of(id))[1]?.from ?? Infinity));
    const lastBefore = Math.max(...all.flatMap((b) => receivedMs(b).filter((ms) => ms < reopened)));
    // The data outage at the exchange: from the last trade the old socket carried to the first trade on the
    // new one (exchange time; a frame is sent at or after its tick's time and received after that).
    const tradeTime = (symbol: string, id: number) =>
      tradesByIdRange(sim.groundTruth(symbol, exchange), { firstId: id, lastId: id })[0]!.timestamp;
    const traded = exchange === 'binance' ? BINANCE : COINBASE;
    const lastSentBefore = Math.max(...traded.map((s) => tradeTime(s, first.trades[s]!.at(-1)!.lastId)));
    const firstSentAfter = Math.min(...traded.map((s) => tradeTime(s, second.trades[s]![0]!.firstId)));
    for (const symbol of symbols) {
      for (const type of ['trade', 'book_ticker'] as const) {
        const id = `${exchange}:${symbol}:${type}`;
        const batches = collector.of(id);
        const seqs = batches.map((b) => b.seq);
        t.deepEqual(
          seqs,
          seqs.map((_, i) => i),
          `${id}: every batch of the relay arrived once`,
        );
        const windows = mergedWindows(batches);
        t.is(windows.length, 2, `${id}: covered, one hole, covered again: ${JSON.stringify(windows)}`);
        const [before, after] = windows as [{ from: number; to: number }, { from: number; to: number }];
        // The hole starts right after the last message the lost connection delivered...
        t.is(before.to, lastBefore + 1, `${id}: hole starts at the last evidence`);
        t.true(
          before.to > lastSentBefore,
          `${id}: the hole starts after the last tick the old socket carried`,
        );
        t.true(before.to <= closedAt + 500, `${id}: hole start ${before.to} vs socket closed ${closedAt}`);
        // ...and ends at the first message of this stream's type on the new connection, never before it.
        const firstAfter = Math.min(
          ...symbols
            .flatMap((s) => collector.of(`${exchange}:${s}:${type}`).flatMap(receivedMs))
            .filter((ms) => ms > lastBefore),
        );
        t.is(after.from, firstAfter, `${id}: coverage reopens at the first ${type} after reconnect`);
        if (symbol === symbols[0]) {
          t.log(
            `${id}: hole [${before.to}, ${after.from}) = ${after.from - before.to} ms; simulator: last trade sent ` +
              `${lastSentBefore}, socket closed ${closedAt}, new socket ${second.openedAt}, first trade sent ` +
              `${firstSentAfter}`,
          );
        }
        t.true(after.from >= second.openedAt, `${id}: no claim before the new connection existed`);
        if (type === 'trade') {
          t.true(
            after.from >= firstSentAfter,
            `${id}: the hole lasts until the first trade on the new socket`,
          );
        }
        t.true(
          after.from - second.openedAt < 2000,
          `${id}: reopened ${after.from - second.openedAt} ms after connect`,
        );
        for (const b of batches) {
          t.like(b.attributes, {
            schema: String(SCHEMA_VERSION),
            exchange,
            symbol,
            type,
            relay: b.relayId,
            seq: String(b.seq),
            wfrom: String(b.window.from),
            wto: String(b.window.to),
            count: String(b.ticks.length),
          });
        }
        if (symbol === QUIET) {
          t.true(
            batches.every((b) => b.ticks.length === 0),
            'a quiet stream sends only heartbeats',
          );
          const spans = batches
            .filter((b) => b.window.to <= before.to || b.window.from >= after.from)
            .map((b) => b.window.to - b.window.from)
            .sort((a, b) => a - b);
          // Heartbeats are cut one poll (25 ms) before the second is up; a loaded machine delays the poll.
          const median = spans[Math.floor(spans.length / 2)]!;
          t.true(median <= 1000, `${id}: a heartbeat at least every second (median window ${median} ms)`);
          t.true(spans.at(-1)! <= 2000, `${id}: longest heartbeat window ${spans.at(-1)} ms`);
        }
      }
    }
    // Nothing the exchange sent was lost: the published trades are exactly the trades sent on both connections.
    for (const symbol of exchange === 'binance' ? BINANCE : COINBASE) {
      const published = collector.of(`${exchange}:${symbol}:trade`).flatMap((b) => b.ticks as TradeTick[]);
      const sentIds = ids(sim.sentTrades(symbol, exchange));
      t.deepEqual(
        published.map((x) => Number(x.id)),
        sentIds,
        `${exchange}:${symbol}: published trades = sent trades`,
      );
      t.true(sentIds.length > 200);
      const quotes = collector.of(`${exchange}:${symbol}:book_ticker`);
      const rowIds = quotes.flatMap((b) => b.rowIds);
      const updateIds = quotes.flatMap((b) => (b.ticks as QuoteTick[]).map((q) => q.updateId));
      t.true(updateIds.length > 200 && updateIds.every((u) => u !== undefined), 'quotes carry the update id');
      t.deepEqual(
        rowIds,
        updateIds.map((u) => `${exchange}:${symbol}:q:${u}`),
        'quote row id = exchange:symbol:q:<update id>',
      );
    }
  }
});
