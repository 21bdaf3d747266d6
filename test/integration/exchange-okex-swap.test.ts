import test from 'ava';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { DerivativeTickerTick, LiquidationTick, Tick } from '../../functions/core/model/tick.ts';
import {
  bookSnapshot,
  derivativeTickersBetween,
  liquidationsBetween,
  tickSource,
  type BookLevel,
} from '../../scripts/local/exchange/ground-truth.ts';
import { startHistoryServer } from '../../scripts/local/exchange/history-server.ts';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import { historyTicks } from '../support/history-ticks.ts';
import { drainRelay, relayOnSimulator, runRelayToExit } from '../support/relay.ts';

const EXCHANGE = 'okex-swap';
const SYMBOL = 'btc-usdt-swap';
const SEED = 61;
const RATE = 20;

const levels = (list: readonly BookLevel[]) =>
  list.map(([p, q]) => ({ price: Number(p), amount: Number(q) }));

/** Messages on one websocket, awaited by predicate. */
function messagesOf(ws: WebSocket) {
  const received: unknown[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (raw) => {
    const text = raw.toString();
    received.push(text === 'pong' ? text : JSON.parse(text));
    for (const wake of waiters) wake();
  });
  const until = (done: (all: unknown[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(received)}`)), 10_000);
      const check = () => {
        if (!done(received)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return { received, until };
}

test('the simulator speaks OKX v5: an ack per arg, a 60018 refusal of an unlisted instId, a books snapshot, ping/pong', async (t) => {
  const sim = await startSimulator({
    seed: SEED,
    ratePerSymbol: RATE,
    symbols: [SYMBOL],
    unlisted: ['btc-xyz-swap'],
  });
  t.teardown(() => sim.stop());
  const ws = new WebSocket(sim.wsUrls[EXCHANGE]);
  t.teardown(() => ws.terminate());
  await once(ws, 'open');
  const { received, until } = messagesOf(ws);
  const args = [
    { channel: 'books', instId: 'BTC-USDT-SWAP' },
    { channel: 'trades-all', instId: 'BTC-XYZ-SWAP' },
    { channel: 'liquidation-orders', instType: 'SWAP' },
    { channel: 'bbo-tbt', instId: 'BTC-USDT-SWAP' },
  ];
  ws.send(JSON.stringify({ op: 'subscribe', args }));
  ws.send('ping');
  ws.send('{"op":"subscribe"');
  const data = (channel: string) => (m: unknown) =>
    (m as { arg?: { channel?: string }; data?: unknown }).arg?.channel === channel &&
    (m as { data?: unknown }).data !== undefined;
  await until(
    (all) => all.some(data('bbo-tbt')) && all.filter(data('books')).length >= 3 && all.includes('pong'),
  );
  const events = received.filter(
    (m) => typeof m === 'object' && (m as { event?: unknown }).event !== undefined,
  ) as {
    event: string;
    arg?: unknown;
    code?: string;
    msg?: string;
  }[];
  t.deepEqual(
    events.filter((e) => e.event === 'subscribe').map((e) => e.arg),
    [args[0], args[2], args[3]],
    'each listed arg acknowledged, in order',
  );
  const errors = events.filter((e) => e.event === 'error');
  t.is(errors.length, 2);
  t.is(errors[0]!.code, '60018');
  t.regex(errors[0]!.msg!, /^Wrong URL or channel:trades-all,instId:BTC-XYZ-SWAP doesn't exist/);
  t.is(errors[1]!.code, '60012', 'not JSON: invalid request');
  // The book: a snapshot first (seqId = the last update it holds, prevSeqId -1), then chained updates.
  const books = received.filter(data('books')) as {
    action: string;
    data: { seqId: number; prevSeqId: number; bids: string[][] }[];
  }[];
  t.is(books[0]!.action, 'snapshot');
  t.is(books[0]!.data[0]!.prevSeqId, -1);
  const [snapshotRecord] = sim.bookSnapshots();
  t.is(books[0]!.data[0]!.seqId, snapshotRecord!.lastUpdateId);
  const book = bookSnapshot(sim.groundTruth(SYMBOL, EXCHANGE), snapshotRecord!.lastUpdateId);
  t.deepEqual(
    books[0]!.data[0]!.bids.map(([p, q]) => [p, q]),
    book.bids.map(([p, q]) => [p, q]),
  );
  for (const [i, update] of books.slice(1).entries()) {
    t.is(update.action, 'update');
    t.is(update.data[0]!.prevSeqId, books[i]!.data[0]!.seqId, 'prevSeqId is the previous seqId');
  }
});

test('the relay records every okex-swap type from the simulator as the ground truth has it, and a backfill gives the same row ids', async (t) => {
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, symbols: [SYMBOL] });
  t.teardown(() => sim.stop());
  const history = await startHistoryServer({ seed: SEED, ratePerSymbol: RATE, symbols: [SYMBOL] });
  t.teardown(() => history.stop());
  const streams = `${EXCHANGE}:${SYMBOL}:trade,book_ticker,book_change,derivative_ticker,liquidation`;
  const { relay, collector } = await relayOnSimulator(t, 'relay-okex-swap', sim, streams, {
    WSS_URL_OKEX_SWAP: sim.wsUrls[EXCHANGE],
  });
  const ticksOf = (type: string): Tick[] =>
    collector.of(`${EXCHANGE}:${SYMBOL}:${type}`).flatMap((b) => b.ticks);
  // A few seconds: two liquidations (~1 per 4 s) besides the one OKX pushes again on subscribe.
  const enough = () =>
    ['trade', 'book_ticker', 'book_change'].every((type) => ticksOf(type).length > 3 * RATE) &&
    ticksOf('liquidation').length >= 3;
  t.true(await collector.until(enough, 60_000), `a few seconds of each type; log: ${relay.service.tail()}`);
  await drainRelay(t, sim, relay, collector);

  const truth = sim.groundTruth(SYMBOL, EXCHANGE);
  const trades = ticksOf('trade');
  const firstTrade = Number((trades[0] as { id: string }).id) - 1;
  t.deepEqual(
    trades.map((x) => x.type === 'trade' && [x.id, x.price, x.side, x.ts]),
    tickSource('trade', truth)
      .ticks(firstTrade, firstTrade + trades.length)
      .map(
        (g) =>
          g.kind === 'trade' && [
            String(g.id),
            Number(g.price),
            g.isBuyerMaker ? 'sell' : 'buy',
            g.timestamp * 1000,
          ],
      ),
    'trades: consecutive ground-truth trades, values equal',
  );
  const quotes = ticksOf('book_ticker');
  const firstQuote = tickSource('bookTicker', truth).indexAtOrAfter(quotes[0]!.ts / 1000);
  t.deepEqual(
    quotes.map((x) => x.type === 'book_ticker' && [x.bidPrice, x.askAmount, x.ts]),
    tickSource('bookTicker', truth)
      .ticks(firstQuote, firstQuote + quotes.length)
      .map((g) => g.kind === 'bookTicker' && [Number(g.bidPrice), Number(g.askQty), g.timestamp * 1000]),
    'quotes: consecutive ground-truth quotes',
  );
  const [snapshot, ...updates] = ticksOf('book_change');
  t.true(snapshot!.type === 'book_change' && snapshot!.isSnapshot, 'the book opens with its snapshot');
  const firstUpdate = tickSource('bookChange', truth).indexAtOrAfter(updates[0]!.ts / 1000);
  t.deepEqual(
    updates.map((x) => x.type === 'book_change' && [x.isSnapshot, x.bids, x.asks]),
    tickSource('bookChange', truth)
      .ticks(firstUpdate, firstUpdate + updates.length)
      .map((g) => g.kind === 'bookChange' && [false, levels(g.bids), levels(g.asks)]),
    'book: every update once, in order',
  );

  // Derivative tickers: four rows per ground-truth ticker (index-tickers only feeds the next), each keyed
  // by its channel and time; every ticker between the first and the last seen has all four.
  const tickers = ticksOf('derivative_ticker') as DerivativeTickerTick[];
  const keys = tickers.map((x) => x.eventKey!);
  t.is(new Set(keys).size, keys.length, 'each ticker message once');
  const keyTimes = keys.map((k) => Number(k.slice(k.lastIndexOf(':') + 1)));
  const truthTickers = derivativeTickersBetween({
    ...truth,
    from: Math.min(...keyTimes),
    to: Math.max(...keyTimes) + 1,
  });
  t.true(truthTickers.length >= 3);
  const channels = ['funding-rate', 'mark-price', 'open-interest', 'tickers'];
  const possible = new Set(truthTickers.flatMap((g) => channels.map((c) => `${c}:${g.timestamp}`)));
  t.deepEqual(
    keys.filter((k) => !possible.has(k)),
    [],
    'every row is a ground-truth ticker on one of its channels',
  );
  const interior = truthTickers.slice(1, -1).flatMap((g) => channels.map((c) => `${c}:${g.timestamp}`));
  t.deepEqual(
    interior.filter((k) => !keys.includes(k)),
    [],
    'no ticker message lost',
  );
  const g = truthTickers.at(-2)!;
  t.like(
    tickers.find((x) => x.eventKey === `tickers:${g.timestamp}`),
    {
      lastPrice: Number(g.lastPrice),
      markPrice: Number(g.markPrice),
      indexPrice: Number(g.indexPrice),
      openInterest: Number(g.openInterest),
      fundingRate: Number(g.fundingRate),
      predictedFundingRate: Number(g.predictedFundingRate),
    },
  );
  // Liquidations: the one OKX pushes again on subscribe, then every one after it, values equal.
  const liquidations = ticksOf('liquidation') as LiquidationTick[];
  const truthLiquidations = liquidationsBetween({
    ...truth,
    from: Math.floor(liquidations[0]!.ts / 1000),
    to: Math.floor(liquidations.at(-1)!.ts / 1000) + 1,
  });
  t.deepEqual(
    liquidations.map((x) => [x.price, x.amount, x.side, x.ts]),
    truthLiquidations.map((l) => [Number(l.price), Number(l.qty), l.side, l.timestamp * 1000]),
  );

  // A backfill of the same time from the history server gives every live row its own id again.
  const backfills = [
    ['trade', trades],
    ['book_ticker', quotes],
    ['book_change', updates],
    ['derivative_ticker', tickers],
    ['liquidation', liquidations],
  ] as const;
  // Windows by receive time, as the gap-filler reads; a second early for a funding row stamped before it.
  const filled = await Promise.all(
    backfills.map(([type, live]) => {
      const times = live.map((x: Tick) => Math.floor(x.ts / 1000));
      const window = [Math.min(...times) - 1000, Math.max(...times) + 1] as const;
      return historyTicks(history, { exchange: EXCHANGE, symbol: SYMBOL, type }, ...window);
    }),
  );
  for (const [i, [type, live]] of backfills.entries()) {
    const ids = new Set(filled[i]!.map((f) => f.rowId));
    t.deepEqual(
      live.map(rowId).filter((id) => !ids.has(id)),
      [],
      `${type}: every live row id is in the backfill`,
    );
  }
});

test('an okex-swap instId OKX does not list stops the relay with exit 78 naming its streams', async (t) => {
  const emulators = requireEmulators();
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, unlisted: ['btc-xyz-swap'] });
  t.teardown(() => sim.stop());
  const result = await runRelayToExit({
    streams: `${EXCHANGE}:${SYMBOL},btc-xyz-swap:trade,book_ticker`,
    topic: uniqueName('relay_okex'),
    pubsubHost: emulators.pubsub,
    firestoreHost: emulators.firestore,
    projectId: emulators.projectId,
    extra: { WSS_URL_OKEX_SWAP: sim.wsUrls[EXCHANGE], GAPS_COLLECTION: uniqueName('gaps') },
  });
  t.is(result.code, 78, result.output.slice(-1000));
  const message = String(result.logs.find((l) => l.severity === 'CRITICAL')?.message);
  t.regex(message, /okex-swap:btc-xyz-swap:trade, okex-swap:btc-xyz-swap:book_ticker/);
  t.regex(message, /instId:BTC-XYZ-SWAP doesn't exist/);
  t.notRegex(message, /btc-usdt-swap/, 'the listed swap is not blamed');
});
