import test from 'ava';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type {
  BookChangeTick,
  DerivativeTickerTick,
  LiquidationTick,
  PriceLevel,
  QuoteTick,
  Tick,
  TradeTick,
} from '../../functions/core/model/tick.ts';
import { bybitSeq, bybitTradeId } from '../../scripts/local/exchange/bybit-wire.ts';
import {
  bookSnapshot,
  tickSource,
  tradesByIdRange,
  type BookLevel,
} from '../../scripts/local/exchange/ground-truth.ts';
import { startHistoryServer } from '../../scripts/local/exchange/history-server.ts';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import { historyTicks } from '../support/history-ticks.ts';
import { drainRelay, relayOnSimulator, runRelayToExit, type PulledBatch } from '../support/relay.ts';

const SEED = 61;
const RATE = 20;

/** A raw websocket client of the simulator's Bybit feed, collecting every message it receives. */
async function bybitClient(url: string): Promise<{
  ws: WebSocket;
  received: Record<string, unknown>[];
  next(predicate: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}> {
  const ws = new WebSocket(url);
  const received: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    received.push(JSON.parse(data.toString()) as Record<string, unknown>);
    for (const wake of waiters) wake();
  });
  await once(ws, 'open');
  const next = (predicate: (m: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such message within 5 s')), 5_000);
      const wake = () => {
        const found = received.find(predicate);
        if (found === undefined) return;
        clearTimeout(timer);
        waiters.delete(wake);
        resolve(found);
      };
      waiters.add(wake);
      wake();
    });
  return { ws, received, next };
}

test('the simulator speaks Bybit v5 linear: acks, the book snapshot first, data by topic, pongs, refusals', async (t) => {
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, unlisted: ['xyzusdt'] });
  t.teardown(() => sim.stop());
  t.regex(sim.wsUrls.bybit, /^ws:\/\/127\.0\.0\.1:\d+\/v5\/public\/linear$/);
  const { ws, received, next } = await bybitClient(sim.wsUrls.bybit);
  t.teardown(() => ws.terminate());
  ws.send(JSON.stringify({ op: 'subscribe', args: ['publicTrade.BTCUSDT', 'orderbook.50.BTCUSDT'] }));
  ws.send(JSON.stringify({ op: 'subscribe', args: ['orderbook.1.BTCUSDT', 'orderbook.200.BTCUSDT'] }));
  await next((m) => m.topic === 'publicTrade.BTCUSDT');
  await next((m) => m.topic === 'orderbook.1.BTCUSDT' && m.type === 'delta');
  // Each subscribe is acknowledged once, before any of its data; the book opens with its snapshot.
  const acks = received.filter((m) => m.op === 'subscribe');
  t.deepEqual(acks.length, 2);
  t.like(acks[0], { success: true, ret_msg: '', req_id: '', op: 'subscribe' });
  t.regex(String(acks[0]!.conn_id), /^sim-bybit-\d+$/);
  const book = received.filter((m) => m.topic === 'orderbook.50.BTCUSDT');
  t.like(book[0], { type: 'snapshot' });
  t.true(book.slice(1).every((m) => m.type === 'delta'));
  t.true(received.indexOf(acks[0]!) < received.indexOf(book[0]!));
  const snapshotRecord = sim.bookSnapshots().find((s) => s.exchange === 'bybit')!;
  const served = book[0]!.data as { b: BookLevel[]; u: number };
  t.deepEqual(served.b, bookSnapshot(sim.groundTruth('btcusdt', 'bybit'), snapshotRecord.lastUpdateId).bids);
  const quotes = received.filter((m) => m.topic === 'orderbook.1.BTCUSDT');
  t.is(quotes[0]!.type, 'snapshot', "the connection's first quote is a snapshot");
  t.true(quotes.slice(1).every((m) => m.type === 'delta'));
  t.false(
    received.some((m) => m.topic === 'orderbook.200.BTCUSDT'),
    'a served topic without data stays silent',
  );

  ws.send(JSON.stringify({ op: 'ping', req_id: 'p1' }));
  t.like(await next((m) => m.op === 'ping'), { success: true, ret_msg: 'pong', req_id: 'p1' });
  ws.send(JSON.stringify({ op: 'subscribe', args: ['publicTrade.ETHUSDT', 'publicTrade.XYZUSDT'] }));
  t.like(await next((m) => m.success === false), {
    ret_msg: 'error:handler not found,topic:publicTrade.XYZUSDT',
    op: 'subscribe',
  });
  t.false(
    sim
      .connections()
      .at(-1)!
      .subscriptions.some((s) => s.includes('ETHUSDT')),
    'nothing of the refused batch is subscribed',
  );
});

const ticksOf = <T extends Tick>(batches: readonly PulledBatch[], type: T['type']): T[] =>
  batches.flatMap((b) => b.ticks).filter((x): x is T => x.type === type);
const levels = (list: readonly BookLevel[]): PriceLevel[] =>
  list.map(([p, q]) => ({ price: Number(p), amount: Number(q) }));
const held = (list: readonly PriceLevel[]): PriceLevel[] => list.filter((l) => l.amount > 0);

test('a relay records bybit trades, quotes, book changes, tickers and liquidations as sent, and a backfill gets the same row ids', async (t) => {
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, symbols: ['btcusdt'] });
  t.teardown(() => sim.stop());
  const history = await startHistoryServer({ seed: SEED, ratePerSymbol: RATE, symbols: ['btcusdt'] });
  t.teardown(() => history.stop());
  const streams = 'bybit:btcusdt:trade,book_ticker,book_change,derivative_ticker,liquidation';
  const { relay, collector } = await relayOnSimulator(t, 'relay-bybit', sim, streams);
  // About a second of quotes and trades; tickers come once a second and liquidations every 4 s or so.
  const enough = (type: Tick['type'], count: number) =>
    ticksOf(collector.of(`bybit:btcusdt:${type}`), type).length >= count;
  t.true(
    await collector.until(
      () =>
        (['trade', 'book_ticker', 'book_change'] as const).every((x) => enough(x, 20)) &&
        enough('derivative_ticker', 2) &&
        enough('liquidation', 1),
      60_000,
    ),
    `enough ticks of each type; log: ${relay.service.tail()}`,
  );
  await drainRelay(t, sim, relay, collector);
  t.is(sim.connections().filter((c) => c.exchange === 'bybit').length, 1, 'one connection');
  const truth = sim.groundTruth('btcusdt', 'bybit');

  // Trades: exactly what the simulator wrote, keyed by Bybit's UUID.
  const trades = ticksOf<TradeTick>(collector.of('bybit:btcusdt:trade'), 'trade');
  const sent = sim.sentTrades('btcusdt', 'bybit');
  t.is(sent.length, 1, 'one run of trades');
  t.deepEqual(
    trades.map((x) => [x.id, x.price, x.side, x.ts / 1000]),
    tradesByIdRange(truth, sent[0]!).map((g) => [
      bybitTradeId(g),
      Number(g.price),
      g.isBuyerMaker ? 'sell' : 'buy',
      g.timestamp,
    ]),
  );

  // Quotes: consecutive ground-truth quotes (the first was the connection's snapshot), keyed by seq.
  const quotes = ticksOf<QuoteTick>(collector.of('bybit:btcusdt:book_ticker'), 'book_ticker');
  const quoteSource = tickSource('bookTicker', truth);
  const firstQuote = quoteSource.indexAtOrAfter(quotes[0]!.ts / 1000);
  t.deepEqual(
    quotes.map((x) => [rowId(x), x.bidPrice, x.askAmount, x.ts / 1000]),
    quoteSource
      .ticks(firstQuote, firstQuote + quotes.length)
      .map((g) => [
        `bybit:btcusdt:q:${bybitSeq(g.updateId)}`,
        Number(g.bidPrice),
        Number(g.askQty),
        g.timestamp,
      ]),
  );

  // Book: the snapshot (the book before the first delta), then every update once.
  const [snapshot, ...updates] = ticksOf<BookChangeTick>(
    collector.of('bybit:btcusdt:book_change'),
    'book_change',
  );
  const bookSource = tickSource('bookChange', truth);
  const firstUpdate = bookSource.indexAtOrAfter(updates[0]!.ts / 1000);
  const book = bookSnapshot(truth, firstUpdate);
  t.true(snapshot!.isSnapshot);
  t.deepEqual([held(snapshot!.bids), held(snapshot!.asks)], [levels(book.bids), levels(book.asks)]);
  t.deepEqual(
    updates.map((x) => [x.isSnapshot, x.bids, x.asks, x.ts / 1000]),
    bookSource
      .ticks(firstUpdate, firstUpdate + updates.length)
      .map((g) => [false, levels(g.bids), levels(g.asks), g.timestamp]),
  );

  // A backfill from the minute before the live data to its end holds every live row id (the book's
  // snapshots apart: the relay's is its own, the recorder's are at minute starts).
  // Tickers: consecutive ground-truth tickers (the first a snapshot), keyed by topic and time.
  const tickers = ticksOf<DerivativeTickerTick>(
    collector.of('bybit:btcusdt:derivative_ticker'),
    'derivative_ticker',
  );
  const tickerSource = tickSource('derivativeTicker', truth);
  const firstTicker = tickerSource.indexAtOrAfter(tickers[0]!.ts / 1000);
  t.deepEqual(
    tickers.map((x) => [rowId(x), x.markPrice, x.indexPrice, x.openInterest, x.fundingRate, x.fundingTs]),
    tickerSource
      .ticks(firstTicker, firstTicker + tickers.length)
      .map((g) => [
        `bybit:btcusdt:d:tickers:${g.timestamp}`,
        Number(g.markPrice),
        Number(g.indexPrice),
        Number(g.openInterest),
        Number(g.fundingRate),
        g.fundingTime * 1000,
      ]),
  );

  // Liquidations: consecutive ground-truth liquidations, row ids hashed from the exchange's values.
  const liquidations = ticksOf<LiquidationTick>(collector.of('bybit:btcusdt:liquidation'), 'liquidation');
  const liquidationSource = tickSource('liquidation', truth);
  const firstLiquidation = liquidationSource.indexAtOrAfter(liquidations[0]!.ts / 1000);
  t.deepEqual(
    liquidations.map((x) => [x.side, x.price, x.amount, x.ts / 1000]),
    liquidationSource
      .ticks(firstLiquidation, firstLiquidation + liquidations.length)
      .map((g) => [g.side, Number(g.price), Number(g.qty), g.timestamp]),
  );

  const live: [DataType, readonly Tick[]][] = [
    ['trade', trades],
    ['book_ticker', quotes],
    ['book_change', updates],
    ['derivative_ticker', tickers],
    ['liquidation', liquidations],
  ];
  const windowOf = (ticks: readonly Tick[]) => ({
    from: Math.floor(ticks[0]!.ts / 1000) - 60_000,
    to: Math.floor(ticks.at(-1)!.ts / 1000) + 1,
  });
  const filled = await Promise.all(
    live.map(([type, ticks]) =>
      historyTicks(
        history,
        { exchange: 'bybit', symbol: 'btcusdt', type },
        windowOf(ticks).from,
        windowOf(ticks).to,
      ),
    ),
  );
  live.forEach(([type, ticks], i) => {
    const ids = new Set(filled[i]!.map((f) => f.rowId));
    const missing = ticks.map((x) => rowId(x)).filter((id) => !ids.has(id));
    t.deepEqual(missing, [], `${type}: every live row id is in the backfill`);
  });
});

test('a bybit symbol Bybit does not list stops the relay with exit 78 naming its streams', async (t) => {
  const emulators = requireEmulators();
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, unlisted: ['xyzusdt'] });
  t.teardown(() => sim.stop());
  const result = await runRelayToExit({
    streams: 'bybit:btcusdt,xyzusdt:trade',
    topic: uniqueName('relay_bybit'),
    pubsubHost: emulators.pubsub,
    firestoreHost: emulators.firestore,
    projectId: emulators.projectId,
    extra: { WSS_URL_BYBIT: sim.wsUrls.bybit, GAPS_COLLECTION: uniqueName('gaps') },
  });
  t.is(result.code, 78, result.output.slice(-1000));
  const message = String(result.logs.find((l) => l.severity === 'CRITICAL')?.message);
  t.regex(message, /bybit:xyzusdt:trade/);
  t.regex(message, /handler not found,topic:publicTrade\.XYZUSDT/);
  t.notRegex(message, /btcusdt/, 'the listed symbol is not blamed');
});
