import test from 'ava';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type {
  BookChangeTick,
  DerivativeTickerTick,
  LiquidationTick,
  QuoteTick,
  Tick,
  TradeTick,
} from '../../functions/core/model/tick.ts';
import { deribitLiquidation, deribitTickerFields } from '../../scripts/local/exchange/deribit-wire.ts';
import { tickSource, tradesByIdRange } from '../../scripts/local/exchange/ground-truth.ts';
import { startHistoryServer } from '../../scripts/local/exchange/history-server.ts';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import { checkBookAsSent, quoteRow } from '../support/ground-truth-rows.ts';
import { historyTicks } from '../support/history-ticks.ts';
import { drainRelay, relayOnSimulator, type PulledBatch } from '../support/relay.ts';

const SEED = 67;
const RATE = 20;
type Message = Record<string, unknown> & { id?: unknown; result?: unknown; params?: { channel?: string } };

test('the simulator speaks Deribit JSON-RPC: heartbeat set, subscribe answered with what it serves, book snapshot first', async (t) => {
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, unlisted: ['xyz-perpetual'] });
  t.teardown(() => sim.stop());
  t.regex(sim.wsUrls.deribit, /^ws:\/\/127\.0\.0\.1:\d+\/ws\/api\/v2$/);
  const ws = new WebSocket(sim.wsUrls.deribit);
  t.teardown(() => ws.terminate());
  const received: Message[] = [];
  let wake = (): void => {};
  ws.on('message', (data) => {
    received.push(JSON.parse(data.toString()) as Message);
    wake();
  });
  const next = async (predicate: (m: Message) => boolean): Promise<Message> => {
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
      const found = received.find(predicate);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    throw new Error('no such message within 5 s');
  };
  await once(ws, 'open');
  const send = (id: number, method: string, params: unknown) =>
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  send(0, 'public/set_heartbeat', { interval: 10 });
  t.like(await next((m) => m.id === 0), { result: 'ok' });
  send(1, 'public/set_heartbeat', { interval: 5 });
  t.like(await next((m) => m.id === 1), { error: { code: -32602 } });
  const channels = ['trades', 'book', 'ticker'].map((c) => `${c}.BTC-PERPETUAL.100ms`);
  send(3, 'public/subscribe', {
    channels: [...channels, 'trades.XYZ-PERPETUAL.100ms', 'nope.BTC-PERPETUAL.100ms'],
  });
  t.deepEqual((await next((m) => m.id === 3)).result, channels, 'unserved channels are left out, silently');
  await next((m) => m.params?.channel === 'trades.BTC-PERPETUAL.100ms');
  await next((m) => m.params?.channel === 'ticker.BTC-PERPETUAL.100ms');
  const book = received.filter((m) => m.params?.channel === 'book.BTC-PERPETUAL.100ms');
  t.like(book[0]!.params, { data: { type: 'snapshot' } });
  t.true(received.findIndex((m) => m.id === 3) < received.indexOf(book[0]!), 'the answer comes first');
  const snapshot = sim.bookSnapshots().find((s) => s.exchange === 'deribit')!;
  const served = (book[0]!.params as { data: { change_id: number } }).data;
  t.is(served.change_id, snapshot.lastUpdateId);
  send(4, 'public/test', {});
  t.like(await next((m) => m.id === 4), { result: { version: '1.2.26' } });
  send(5, 'private/buy', {});
  t.like(await next((m) => m.id === 5), { error: { code: -32601 } });
  t.false(received.some((m) => String(m.params?.channel).includes('XYZ')));
});

const ticksOf = <T extends Tick>(batches: readonly PulledBatch[], type: T['type']): T[] =>
  batches.flatMap((b) => b.ticks).filter((x): x is T => x.type === type);
test('a relay records deribit trades, quotes, book changes, tickers and liquidations as sent, and a backfill gets the same row ids', async (t) => {
  const sim = await startSimulator({ seed: SEED, ratePerSymbol: RATE, symbols: ['btc-perpetual'] });
  t.teardown(() => sim.stop());
  const history = await startHistoryServer({ seed: SEED, ratePerSymbol: RATE, symbols: ['btc-perpetual'] });
  t.teardown(() => history.stop());
  const streams = 'deribit:btc-perpetual:trade,book_ticker,book_change,derivative_ticker,liquidation';
  const { relay, collector } = await relayOnSimulator(t, 'relay-deribit', sim, streams);
  const enough = (type: Tick['type'], count: number) =>
    ticksOf(collector.of(`deribit:btc-perpetual:${type}`), type).length >= count;
  t.true(
    await collector.until(
      () =>
        (['trade', 'book_ticker', 'book_change', 'derivative_ticker'] as const).every((x) => enough(x, 20)) &&
        enough('liquidation', 1),
      60_000,
    ),
    `enough ticks of each type; log: ${relay.service.tail()}`,
  );
  await drainRelay(t, sim, relay, collector);
  t.is(sim.connections().filter((c) => c.exchange === 'deribit').length, 1, 'one connection');
  const truth = sim.groundTruth('btc-perpetual', 'deribit');

  // Trades: exactly what the simulator wrote; the liquidation fills among them are the liquidations.
  const trades = ticksOf<TradeTick>(collector.of('deribit:btc-perpetual:trade'), 'trade');
  const sent = sim.sentTrades('btc-perpetual', 'deribit');
  t.is(sent.length, 1, 'one run of trades');
  const sentTrades = tradesByIdRange(truth, sent[0]!);
  t.deepEqual(
    trades.map((x) => [rowId(x), x.price, x.side, x.ts / 1000]),
    sentTrades.map((g) => [
      `deribit:btc-perpetual:t:${g.id}`,
      Number(g.price),
      g.isBuyerMaker ? 'sell' : 'buy',
      g.timestamp,
    ]),
  );
  const liquidations = ticksOf<LiquidationTick>(
    collector.of('deribit:btc-perpetual:liquidation'),
    'liquidation',
  );
  t.deepEqual(
    liquidations.map((x) => [rowId(x), x.price, x.amount]),
    sentTrades
      .filter((g) => deribitLiquidation(g) !== undefined)
      .map((g) => [`deribit:btc-perpetual:l:${g.id}`, Number(g.price), Number(g.qty)]),
  );

  // Quotes and tickers: one of each per ground-truth quote pushed on `ticker`.
  const quotes = ticksOf<QuoteTick>(collector.of('deribit:btc-perpetual:book_ticker'), 'book_ticker');
  const quoteSource = tickSource('bookTicker', truth);
  const firstQuote = quoteSource.indexAtOrAfter(quotes[0]!.ts / 1000);
  const pushed = quoteSource.ticks(firstQuote, firstQuote + quotes.length);
  t.deepEqual(
    quotes.map((x) => [x.bidPrice, x.bidAmount, x.askPrice, x.askAmount, x.ts]),
    pushed.map(quoteRow),
  );
  const tickers = ticksOf<DerivativeTickerTick>(
    collector.of('deribit:btc-perpetual:derivative_ticker'),
    'derivative_ticker',
  );
  t.deepEqual(
    tickers.map((x) => [rowId(x), x.markPrice, x.indexPrice, x.openInterest, x.fundingRate]),
    pushed.slice(0, tickers.length).map((g) => {
      const f = deribitTickerFields(g);
      return [
        `deribit:btc-perpetual:d:ticker:${g.timestamp}`,
        f.mark_price,
        f.index_price,
        f.open_interest,
        f.current_funding,
      ];
    }),
  );

  // Book: the snapshot (the book before the first change), then every change once.
  const updates = ticksOf<BookChangeTick>(collector.of('deribit:btc-perpetual:book_change'), 'book_change');
  checkBookAsSent(t, truth, updates);

  // One history child for every type, over the live data's span: it holds every live row id (the book's
  // snapshots apart: the relay's is its own, the recorder's are at minute starts). Deribit's mappers need
  // no opening message: a book change, a quote and a ticker push each stand alone.
  const live: [DataType, readonly Tick[]][] = [
    ['trade', trades],
    ['book_ticker', quotes],
    ['book_change', updates.slice(1)],
    ['derivative_ticker', tickers],
    ['liquidation', liquidations],
  ];
  const all = live.flatMap(([, ticks]) => ticks);
  const from = Math.floor(Math.min(...all.map((x) => x.ts)) / 1000);
  const to = Math.floor(Math.max(...all.map((x) => x.ts)) / 1000) + 1;
  const types = live.map(([type]) => type);
  const filled = await historyTicks(
    history,
    { exchange: 'deribit', symbol: 'btc-perpetual', type: types },
    from,
    to,
  );
  const ids = new Set(filled.map((f) => f.rowId));
  for (const [type, ticks] of live) {
    const missing = ticks.map((x) => rowId(x)).filter((id) => !ids.has(id));
    t.deepEqual(missing, [], `${type}: every live row id is in the backfill`);
  }
});
