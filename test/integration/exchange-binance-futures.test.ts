import test from 'ava';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type { DerivativeTickerTick, Tick } from '../../functions/core/model/tick.ts';
import {
  derivativeTickersBetween,
  liquidationsBetween,
  tickSource,
  tradesByIdRange,
} from '../../scripts/local/exchange/ground-truth.ts';
import { startHistoryServer } from '../../scripts/local/exchange/history-server.ts';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import { historyTicks } from '../support/history-ticks.ts';
import { drainRelay, relayOnSimulator, type PulledBatch } from '../support/relay.ts';

const SEED = 61;
const RATE = 20;
const EXCHANGE = 'binance-futures';
const SYMBOL = 'btcusdt';
const TYPES: readonly DataType[] = [
  'trade',
  'book_ticker',
  'book_change',
  'derivative_ticker',
  'liquidation',
];

const ticksOf = (batches: readonly PulledBatch[]): Tick[] => batches.flatMap((b) => b.ticks);

test('the relay records every binance-futures type from the simulator, and history gives the same row ids', async (t) => {
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, symbols: [SYMBOL] });
  t.teardown(() => sim.stop());
  const history = await startHistoryServer({ seed: SEED, ratePerSymbol: RATE, symbols: [SYMBOL] });
  t.teardown(() => history.stop());
  const streams = `${EXCHANGE}:${SYMBOL}:${TYPES.join(',')}`;
  const { relay, collector } = await relayOnSimulator(t, 'relay-bfut', sim, streams);
  const of = (type: DataType) => ticksOf(collector.of(`${EXCHANGE}:${SYMBOL}:${type}`));
  const keyed = (prefix: string): DerivativeTickerTick[] =>
    (of('derivative_ticker') as DerivativeTickerTick[]).filter((x) => x.eventKey?.startsWith(prefix));
  // A few seconds of data: two liquidations (one per 4 s) and an open interest poll (every 3 s).
  const enough = () =>
    of('liquidation').length >= 2 && keyed('openInterest:').length >= 1 && of('book_change').length > 20;
  t.true(await collector.until(enough, 60_000), `log: ${relay.service.tail()}`);
  await drainRelay(t, sim, relay, collector);
  const truth = sim.groundTruth(SYMBOL, EXCHANGE);

  // Trades: the ids the simulator wrote, contiguous, keyed by the exchange's trade id.
  const trades = of('trade');
  const sent = sim.sentTrades(SYMBOL, EXCHANGE);
  t.is(sent.length, 1, 'one run of trade ids written');
  t.deepEqual(
    trades.map((x) => rowId(x)),
    tradesByIdRange(truth, sent[0]!).map((g) => `${EXCHANGE}:${SYMBOL}:t:${g.id}`),
  );
  // Quotes keyed by `u`, consecutive.
  const quoteIds = of('book_ticker').map((x) => (x.type === 'book_ticker' ? Number(x.updateId) : NaN));
  t.deepEqual(
    quoteIds,
    quoteIds.map((_, i) => quoteIds[0]! + i),
  );

  // Book: the REST snapshot (exchange time T), then every later update once, in order.
  const book = of('book_change');
  const [served] = sim.bookSnapshots().filter((s) => s.exchange === EXCHANGE);
  t.true(book[0]?.type === 'book_change' && book[0].isSnapshot);
  t.is(book[0]!.ts, served!.at * 1000, 'futures depth snapshots carry the exchange time');
  const updates = book.slice(1);
  t.false(updates.some((u) => u.type === 'book_change' && u.isSnapshot));
  const source = tickSource('bookChange', truth);
  const first = source.indexAtOrAfter(Math.floor(updates[0]!.ts / 1000));
  t.true(first >= served!.lastUpdateId, 'no update the snapshot holds is emitted again');
  t.deepEqual(
    updates.map((u) => u.ts / 1000),
    source.ticks(first, first + updates.length).map((g) => g.timestamp),
  );

  // Derivative tickers: a markPrice and a ticker row for every ground-truth ticker between the first and
  // last received, and the polled open interest keyed by the time of the ticker it reports.
  const tickers = of('derivative_ticker') as DerivativeTickerTick[];
  const firstTs = Math.floor(keyed('markPrice:')[0]!.ts / 1000);
  const lastTs = Math.floor(keyed('markPrice:').at(-1)!.ts / 1000);
  const expected = derivativeTickersBetween({ ...truth, from: firstTs, to: lastTs + 1 });
  t.true(expected.length >= 2);
  t.deepEqual(
    keyed('markPrice:').map((x) => [x.eventKey, (x as DerivativeTickerTick).markPrice]),
    expected.map((g) => [`markPrice:${g.timestamp}`, Number(g.markPrice)]),
  );
  // The ticker channel is subscribed apart from markPrice, so it may start one instant later.
  const tickerKeys = keyed('ticker:').map((x) => Number(x.eventKey!.split(':')[1]));
  t.deepEqual(
    keyed('ticker:').map((x) => [x.eventKey, (x as DerivativeTickerTick).lastPrice]),
    derivativeTickersBetween({ ...truth, from: tickerKeys[0]!, to: tickerKeys.at(-1)! + 1 }).map((g) => [
      `ticker:${g.timestamp}`,
      Number(g.lastPrice),
    ]),
  );
  t.true(
    tickerKeys[0]! - firstTs <= 5_000 && lastTs - tickerKeys.at(-1)! <= 5_000,
    'both channels span the run',
  );
  const tickerTimes = new Set(
    derivativeTickersBetween({ ...truth, from: firstTs - 10_000, to: Date.now() }).map((g) => g.timestamp),
  );
  for (const x of keyed('openInterest:')) t.true(tickerTimes.has(Number(x.eventKey!.split(':')[1])));
  t.is(tickers.length, keyed('markPrice:').length + keyed('ticker:').length + keyed('openInterest:').length);

  // Liquidations: the ground truth's, from forceOrder (no id on the wire: a content-hash row id).
  const liquidations = of('liquidation');
  const lFrom = Math.floor(liquidations[0]!.ts / 1000);
  const lTo = Math.floor(liquidations.at(-1)!.ts / 1000) + 1;
  t.deepEqual(
    liquidations.map((x) => x.type === 'liquidation' && [x.ts / 1000, x.price, x.amount, x.side]),
    liquidationsBetween({ ...truth, from: lFrom, to: lTo }).map((g) => [
      g.timestamp,
      Number(g.price),
      Number(g.qty),
      g.side,
    ]),
  );

  // Backfill of the live span, as the gap-filler reads it: every live row id is there (book snapshots
  // excepted by design, decisions/0002).
  const liveMs = TYPES.flatMap((type) => of(type).map((x) => Math.floor(x.ts / 1000)));
  const backfilled = await historyTicks(
    history,
    { exchange: EXCHANGE, symbol: SYMBOL, type: TYPES },
    Math.min(...liveMs) - 1000,
    // History stamps a message by its receive time, after its exchange time: a second before; after, as
    // long as an open-interest poll can take to be received on a loaded machine.
    Math.max(...liveMs) + 5000,
  );
  const filled = new Set(backfilled.map((f) => f.rowId));
  for (const type of TYPES) {
    const live = of(type).filter((x) => x.type !== 'book_change' || !x.isSnapshot);
    const missing = live.map((x) => rowId(x)).filter((id) => !filled.has(id));
    t.deepEqual(missing, [], `${type}: live row ids the backfill lacks`);
  }
});

test('the simulator speaks fstream: SUBSCRIBE acknowledged, frames in ms, REST depth, openInterest and refusals', async (t) => {
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, symbols: [SYMBOL] });
  t.teardown(() => sim.stop());
  const ws = new WebSocket(sim.wsUrls[EXCHANGE]);
  t.teardown(() => ws.close());
  await once(ws, 'open');
  const frames: { result?: unknown; id?: number; stream?: string; data?: Record<string, unknown> }[] = [];
  ws.on('message', (raw) => frames.push(JSON.parse(String(raw)) as (typeof frames)[number]));
  ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@trade', 'btcusdt@markPrice@1s'], id: 1 }));
  const arrived = async (ok: () => boolean) => {
    while (!ok()) await once(ws, 'message');
  };
  await arrived(() => frames.some((f) => f.stream === 'btcusdt@trade'));
  t.deepEqual(frames[0], { result: null, id: 1 });
  const trade = frames.find((f) => f.stream === 'btcusdt@trade')!.data!;
  t.like(trade, { e: 'trade', s: 'BTCUSDT', X: 'MARKET' });
  t.true(Math.abs((trade.T as number) - Date.now()) < 5000, 'milliseconds, not microseconds');

  const rest = sim.restUrls[EXCHANGE]!;
  const depth = (await (await fetch(`${rest}/depth?symbol=BTCUSDT&limit=5`)).json()) as Record<
    string,
    unknown
  >;
  const served = sim.bookSnapshots().at(-1)!;
  t.is(depth.lastUpdateId, served.lastUpdateId + 1, 'one past the last update the book holds');
  t.is(depth.T, served.at);
  t.is((depth.bids as unknown[]).length, 5);
  const oi = await fetch(`${rest}/openInterest?symbol=BTCUSDT`);
  t.is(oi.status, 200);
  const body = (await oi.json()) as { symbol: string; openInterest: string; time: number };
  t.is(body.symbol, 'BTCUSDT');
  t.true(body.time <= Date.now() && Number(body.openInterest) > 0);
  const unknown = await fetch(`${rest}/openInterest?symbol=XYZUSDT`);
  t.is(unknown.status, 400);
  t.like(await unknown.json(), { code: -1121 });
  sim.refuse(60_000, 503);
  t.is((await fetch(`${rest}/openInterest?symbol=BTCUSDT`)).status, 503);
});
