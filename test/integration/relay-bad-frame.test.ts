import test from 'ava';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { tradesByIdRange, type IdRange } from '../../scripts/local/exchange/ground-truth.ts';
import { startSimulator, type ConnectionRecord } from '../../scripts/local/exchange/simulator.ts';
import { drainRelay, logsWith, mergedWindows, relayOnSimulator, type PulledBatch } from '../support/relay.ts';

const SYMBOLS = ['btcusdt', 'ethusdt'];
const STREAMS = `binance:${SYMBOLS.join(',')}:trade`;
/** A Binance trade frame without its data: tardis-dev's trade mapper throws on it. */
const BAD_FRAME = '{"stream":"btcusdt@trade"}';
/** The simulator sends a tick at or after its exchange time, in passes a few ms apart. */
const SEND_SLACK_MS = 100;

const streamOf = (b: PulledBatch) => `${b.stream.exchange}:${b.stream.symbol}:${b.stream.type}`;
const receivedMs = (b: PulledBatch) => b.ticks.map((x) => Math.floor(x.localTs / 1000));
const ids = (ranges: readonly IdRange[] | undefined): number[] =>
  (ranges ?? []).flatMap((r) => Array.from({ length: r.lastId - r.firstId + 1 }, (_, i) => r.firstId + i));

test('a frame tardis-dev cannot normalize ends its connection: coverage closes at that frame, a new connection resumes, and nothing received before it is lost', async (t) => {
  const sim = await startSimulator({ seed: 41, ratePerSymbol: 200, symbols: SYMBOLS });
  t.teardown(() => sim.stop());
  const { relay, collector } = await relayOnSimulator(t, 'relay-bad-frame', sim, STREAMS);

  const coveredSince = (since: number) => (batches: readonly PulledBatch[]) =>
    SYMBOLS.every((s) => batches.some((b) => streamOf(b) === `binance:${s}:trade` && b.window.from >= since));
  t.true(await collector.until(coveredSince(Date.now() + 1000), 30_000), 'covering before the bad frame');
  const injectedAt = Date.now();
  t.is(sim.sendRaw(BAD_FRAME), 1, 'one Binance connection');
  t.true(await collector.until(coveredSince(injectedAt + 2500), 30_000), 'coverage resumed');

  await drainRelay(t, sim, relay, collector);

  const failed = logsWith(relay.logs(), 'exchange stream failed; reconnecting in 1 s');
  t.is(failed.length, 1, 'the failure is logged once, at ERROR');
  t.like(failed[0], { severity: 'ERROR', exchange: 'binance', signal: 'relay_stream_failed' });
  const records = sim.connections().filter((c) => c.exchange === 'binance');
  t.is(records.length, 2, 'the relay replaced the connection');
  const [first, second] = records as [ConnectionRecord, ConnectionRecord];
  t.not(first.closedAt, null, 'the relay closed the connection that carried the bad frame');
  t.true(second.openedAt - injectedAt >= 900, `reconnected ${second.openedAt - injectedAt} ms later`);

  for (const symbol of SYMBOLS) {
    const id = `binance:${symbol}:trade`;
    const batches = collector.of(id);
    const windows = mergedWindows(batches);
    t.is(windows.length, 2, `${id}: covered, one hole, covered again: ${JSON.stringify(windows)}`);
    const [before, after] = windows as [{ from: number; to: number }, { from: number; to: number }];
    // The hole starts right after the bad frame was received and lasts until the new connection delivers.
    t.true(before.to > injectedAt, `${id}: hole starts after the bad frame was sent`);
    t.true(before.to <= injectedAt + 1000, `${id}: hole starts ${before.to - injectedAt} ms after it`);
    t.true(after.from >= second.openedAt, `${id}: no claim before the new connection existed`);
    const received = batches.flatMap(receivedMs);
    t.true(
      received.every((ms) => ms < before.to || ms >= after.from),
      `${id}: every tick inside a window`,
    );

    const published = batches.flatMap((b) => (b.ticks as TradeTick[]).map((x) => Number(x.id)));
    t.is(new Set(published).size, published.length, `${id}: every trade once`);
    const onFirst = ids(first.trades[symbol]);
    const onSecond = ids(second.trades[symbol]);
    t.true(onFirst.length > 100 && onSecond.length > 100, `${id}: trades on both connections`);
    const publishedSet = new Set(published);
    t.true(
      published.every((x) => onFirst.includes(x) || onSecond.includes(x)),
      `${id}: only trades that were sent`,
    );
    t.true(
      onSecond.every((x) => publishedSet.has(x)),
      `${id}: every trade of the new connection`,
    );
    // On the old connection, what was lost was sent after (or just before) the bad frame, so received
    // after it: inside the hole, which the gap-filler backfills.
    const tradeTime = (x: number) =>
      tradesByIdRange(sim.groundTruth(symbol), { firstId: x, lastId: x })[0]!.timestamp;
    const lost = onFirst.filter((x) => !publishedSet.has(x));
    t.true(
      lost.every((x) => tradeTime(x) >= injectedAt - SEND_SLACK_MS && tradeTime(x) < after.from),
      `${id}: the ${lost.length} trades not published lie in the hole`,
    );
    t.log(
      `${id}: hole [${before.to}, ${after.from}) = ${after.from - before.to} ms; bad frame sent ${injectedAt}, ` +
        `old socket closed ${first.closedAt}, new socket ${second.openedAt}; ${lost.length} trades to backfill`,
    );
  }
});
