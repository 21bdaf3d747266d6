import test from 'ava';
import { getRealTimeFeedFactory, type Exchange, type Filter } from 'tardis-dev';
import { classifyFeedError } from '../../functions/adapters/tardis/live-feed.ts';
import { RawTickNormalizer } from '../../functions/adapters/tardis/normalizers.ts';
import { invalidSymbolReason } from '../../functions/core/exchanges/index.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type { Tick } from '../../functions/core/model/tick.ts';
import {
  bookSnapshot,
  ticksBetween,
  type GroundTruthStream,
} from '../../scripts/local/exchange/ground-truth.ts';
import {
  deribitBookSnapshot,
  deribitLiquidation,
  deribitMessage,
  deribitTickerFields,
} from '../../scripts/local/exchange/deribit-wire.ts';
import { DERIBIT_PROTOCOL } from '../../scripts/local/exchange/deribit-protocol.ts';
import { levels, quoteRow, tradeRow } from '../support/ground-truth-rows.ts';
import { normalizeAll, tardisSubscriptions } from '../support/tardis-parity.ts';

const DERIBIT = 'deribit' as Exchange;
const LOCAL = new Date('2019-06-01T00:00:28.619Z');

/** Raw Deribit messages through the live path and the history path (which must agree), per data type. */
const both = (type: DataType, messages: readonly unknown[], local = LOCAL): Tick[] =>
  normalizeAll(DERIBIT, type, messages, local);

// Message shapes of tardis-node 13.35.3 test/mappers.test.ts ('map deribit messages'), written out here.
const rpc = (channel: string, data: unknown) => ({
  jsonrpc: '2.0',
  method: 'subscription',
  params: { channel, data },
});
const fill = (over: Record<string, unknown>) => ({
  trade_seq: 20944815,
  trade_id: '39355898',
  timestamp: 1567296022565,
  tick_direction: 2,
  price: 9598.5,
  instrument_name: 'BTC-PERPETUAL',
  index_price: 9600.8,
  direction: 'sell',
  amount: 2000.0,
  ...over,
});
const trades = rpc('trades.BTC-PERPETUAL.raw', [
  fill({}),
  fill({ trade_seq: 20944816, trade_id: '39355899', tick_direction: 3, amount: 50.0 }),
]);
const liquidationTaker = rpc('trades.BTC-PERPETUAL.raw', [
  fill({
    trade_seq: 40781986,
    trade_id: '66460463',
    timestamp: 1584058044032,
    price: 4469.5,
    liquidation: 'T',
    amount: 1120,
  }),
]);
const liquidationMaker = rpc('trades.BTC-PERPETUAL.raw', [
  fill({
    trade_seq: 40782080,
    trade_id: '66460626',
    timestamp: 1584058067675,
    price: 4458.5,
    liquidation: 'M',
    direction: 'buy',
    amount: 2500,
  }),
]);
const ticker = (timestamp: number, over: Record<string, unknown>) =>
  rpc('ticker.BTC-PERPETUAL.raw', {
    timestamp,
    stats: { volume: 24618.46215298, low: 9569.5, high: 10131.5 },
    state: 'open',
    settlement_price: 9743.97,
    open_interest: 66128281,
    min_price: 9942.76,
    max_price: 10245.58,
    mark_price: 10094.1,
    last_price: 10095.5,
    instrument_name: 'BTC-PERPETUAL',
    index_price: 10091.15,
    funding_8h: 0.00016281,
    current_funding: 0.0,
    best_bid_price: 10095.0,
    best_bid_amount: 7000.0,
    best_ask_price: 10095.5,
    best_ask_amount: 250.0,
    ...over,
  });
const tickers = [
  ticker(1564617604229, {}),
  ticker(1569888003897, {
    open_interest: 84844461,
    mark_price: 8304.39,
    last_price: 8304.5,
    index_price: 8305.94,
    funding_8h: -0.00008477,
    best_bid_price: 8304.0,
    best_bid_amount: 267900.0,
    best_ask_price: 8304.5,
    best_ask_amount: 5260.0,
  }),
];
const book = [
  rpc('book.ETH-PERPETUAL.raw', {
    timestamp: 1564617600273,
    instrument_name: 'ETH-PERPETUAL',
    change_id: 1776289261,
    bids: [
      ['new', 217.8, 1895.0],
      ['new', 217.75, 712.0],
    ],
    asks: [
      ['new', 218.6, 179803.0],
      ['new', 218.65, 7887.0],
    ],
  }),
  rpc('book.ETH-PERPETUAL.raw', {
    timestamp: 1564617654272,
    prev_change_id: 1776294621,
    instrument_name: 'ETH-PERPETUAL',
    change_id: 1776294623,
    bids: [['delete', 217.8, 0.0]],
    asks: [
      ['change', 219.2, 64903.0],
      ['change', 219.1, 19343.0],
    ],
  }),
];

test('deribit trades are keyed by trade_id live and from history; a liquidation fill is also a trade', (t) => {
  const ticks = both('trade', [trades, liquidationTaker]);
  t.deepEqual(ticks.map(rowId), [
    'deribit:btc-perpetual:t:39355898',
    'deribit:btc-perpetual:t:39355899',
    'deribit:btc-perpetual:t:66460463',
  ]);
  t.like(ticks[0], {
    symbol: 'btc-perpetual',
    id: '39355898',
    price: 9598.5,
    amount: 2000,
    side: 'sell',
    ts: 1_567_296_022_565_000,
  });
});

test('deribit liquidations are the fills with a liquidation field, keyed by trade_id; the side is the liquidated one', (t) => {
  const ticks = both('liquidation', [trades, liquidationTaker, liquidationMaker]);
  t.deepEqual(ticks.map(rowId), ['deribit:btc-perpetual:l:66460463', 'deribit:btc-perpetual:l:66460626']);
  // `T`: the taker was liquidated, its side is the fill's; `M`: the maker's, the opposite one.
  t.like(ticks[0], {
    type: 'liquidation',
    price: 4469.5,
    amount: 1120,
    side: 'sell',
    ts: 1_584_058_044_032_000,
  });
  t.like(ticks[1], { type: 'liquidation', price: 4458.5, amount: 2500, side: 'sell' });
});

test('deribit quotes come from ticker with a content-hash id that does not depend on the receive time', (t) => {
  const first = both('book_ticker', tickers);
  const later = both('book_ticker', tickers, new Date(LOCAL.getTime() + 60_000));
  t.like(first[0], {
    bidPrice: 10095,
    bidAmount: 7000,
    askPrice: 10095.5,
    askAmount: 250,
    ts: 1_564_617_604_229_000,
  });
  t.regex(rowId(first[0]!), /^deribit:btc-perpetual:q:[A-Za-z0-9_-]{22}$/);
  t.deepEqual(later.map(rowId), first.map(rowId));
  t.notDeepEqual(rowId(first[1]!), rowId(first[0]!));
});

test('deribit derivative tickers come from ticker, keyed by its timestamp, the same in a replay from mid-stream', (t) => {
  const all = both('derivative_ticker', tickers);
  t.deepEqual(all.map(rowId), [
    'deribit:btc-perpetual:d:ticker:1564617604229',
    'deribit:btc-perpetual:d:ticker:1569888003897',
  ]);
  t.like(all[1], {
    markPrice: 8304.39,
    indexPrice: 8305.94,
    lastPrice: 8304.5,
    openInterest: 84844461,
    fundingRate: 0,
    ts: 1_569_888_003_897_000,
  });
  t.deepEqual(both('derivative_ticker', tickers.slice(1)).map(rowId), all.slice(1).map(rowId));
  // A push that changes nothing tardis-dev reads gives no row.
  t.is(both('derivative_ticker', [tickers[0], ticker(1564617604330, { best_bid_amount: 1 })]).length, 1);
});

test('deribit book changes: a change without prev_change_id is a snapshot, deletes have amount 0', (t) => {
  const ticks = both('book_change', book);
  t.like(ticks[0], {
    isSnapshot: true,
    bids: [
      { price: 217.8, amount: 1895 },
      { price: 217.75, amount: 712 },
    ],
  });
  t.like(ticks[1], {
    isSnapshot: false,
    bids: [{ price: 217.8, amount: 0 }],
    asks: [
      { price: 219.2, amount: 64903 },
      { price: 219.1, amount: 19343 },
    ],
  });
  t.regex(rowId(ticks[1]!), /^deribit:eth-perpetual:b:[A-Za-z0-9_-]{22}$/);
  t.deepEqual(both('book_change', book, new Date()).map(rowId), ticks.map(rowId));
});

test('deribit symbols are perpetuals, lower-cased; a wrong shape is refused with the hint', (t) => {
  t.deepEqual(parseStreamsConfig('deribit:BTC-PERPETUAL,sol_usdc-perpetual:trade'), [
    { exchange: 'deribit', symbol: 'btc-perpetual', type: 'trade' },
    { exchange: 'deribit', symbol: 'sol_usdc-perpetual', type: 'trade' },
  ]);
  const hint =
    'a Deribit perpetual: BASE-PERPETUAL, or BASE_QUOTE-PERPETUAL for a linear one, e.g. btc-perpetual';
  t.is(invalidSymbolReason('deribit', 'btc-27dec24'), `"btc-27dec24" is not a deribit symbol (${hint})`);
  t.truthy(invalidSymbolReason('deribit', 'btc-8jun20-8750-p'));
});

test('a deribit Invalid params answer is a refusal naming the symbol; other errors are not', (t) => {
  const error = (body: unknown) => new Error(`Received error message: ${JSON.stringify(body)}`);
  const invalid = {
    jsonrpc: '2.0',
    id: 3,
    error: {
      code: -32602,
      message: 'Invalid params',
      data: { param: 'channels', reason: 'wrong format trades.XYZ-PERPETUAL' },
    },
  };
  t.deepEqual(classifyFeedError('deribit', ['btc-perpetual', 'xyz-perpetual'], error(invalid))?.symbols, [
    'xyz-perpetual',
  ]);
  t.deepEqual(classifyFeedError('deribit', ['btc-perpetual'], error(invalid))?.symbols, ['btc-perpetual']);
  const tooMany = { jsonrpc: '2.0', id: 3, error: { code: 10028, message: 'too_many_requests' } };
  t.is(classifyFeedError('deribit', ['btc-perpetual'], error(tooMany)), undefined);
  t.is(
    classifyFeedError('deribit', ['btc-perpetual'], new Error('Unexpected server response: 502')),
    undefined,
  );
});

/** tardis-dev's own Deribit feed, unconnected: what it subscribes and how it answers Deribit's requests. */
function deribitFeed(filters: Filter<string>[]) {
  const Feed = getRealTimeFeedFactory('deribit') as unknown as new (...a: unknown[]) => {
    wssURL: string;
    mapToSubscribeMessages(f: Filter<string>[]): unknown[];
    onMessage(message: unknown): void;
    send(message: unknown): void;
  };
  const feed = new Feed('deribit', filters, 0);
  const sent: unknown[] = [];
  feed.send = (m) => sent.push(m);
  return { feed, sent };
}

test('the relay subscribes deribit as tardis-dev would, in one public/subscribe, and answers test_request', (t) => {
  const types: DataType[] = ['trade', 'book_ticker', 'derivative_ticker', 'liquidation', 'book_change'];
  const filters = new RawTickNormalizer(DERIBIT, types, LOCAL).filters(['btc-perpetual', 'eth-perpetual']);
  t.deepEqual(filters, tardisSubscriptions(DERIBIT, types, ['btc-perpetual', 'eth-perpetual']));
  const { feed, sent } = deribitFeed(filters);
  t.is(feed.wssURL, 'wss://streams.deribit.com/ws/api/v2');
  t.deepEqual(feed.mapToSubscribeMessages(filters), [
    {
      jsonrpc: '2.0',
      id: 3,
      method: 'public/subscribe',
      params: {
        channels: [
          'trades.BTC-PERPETUAL.100ms',
          'trades.ETH-PERPETUAL.100ms',
          'ticker.BTC-PERPETUAL.100ms',
          'ticker.ETH-PERPETUAL.100ms',
          'book.BTC-PERPETUAL.100ms',
          'book.ETH-PERPETUAL.100ms',
        ],
      },
    },
  ]);
  feed.onMessage({ jsonrpc: '2.0', method: 'heartbeat', params: { type: 'test_request' } });
  t.deepEqual(sent, [{ jsonrpc: '2.0', method: 'public/test', id: 0, params: {} }]);
});

const MARKET: GroundTruthStream = { seed: 21, exchange: 'deribit', symbol: 'btc-perpetual', rate: 40 };
const FROM = Date.UTC(2026, 0, 5, 12);
const WINDOW = { ...MARKET, from: FROM, to: FROM + 3_000 };

test("the simulator's deribit trades normalize to the ground truth, liquidation fills included", (t) => {
  const truth = ticksBetween('trade', { ...WINDOW, to: FROM + 60_000 });
  const messages = truth.map((x) => deribitMessage(x, 'trades.BTC-PERPETUAL.100ms'));
  const ticks = both('trade', messages, new Date(FROM));
  t.deepEqual(
    ticks.map((x) => x.type === 'trade' && [x.id, x.price, x.amount, x.side, x.ts]),
    truth.map(tradeRow),
  );
  const liquidated = truth.filter((x) => deribitLiquidation(x) !== undefined);
  t.true(liquidated.length >= 2, 'a minute of trades holds liquidations');
  const liquidations = both('liquidation', messages, new Date(FROM));
  t.deepEqual(
    liquidations.map(rowId),
    liquidated.map((x) => `deribit:btc-perpetual:l:${x.id}`),
  );
});

test("the simulator's deribit ticker pushes give the ground-truth quotes and one derivative ticker each", (t) => {
  const truth = ticksBetween('bookTicker', WINDOW);
  const messages = truth.map((x) => deribitMessage(x, 'ticker.BTC-PERPETUAL.100ms'));
  const quotes = both('book_ticker', messages, new Date(FROM));
  t.deepEqual(
    quotes.map((x) => x.type === 'book_ticker' && [x.bidPrice, x.bidAmount, x.askPrice, x.askAmount, x.ts]),
    truth.map(quoteRow),
  );
  const derivative = both('derivative_ticker', messages, new Date(FROM));
  t.is(derivative.length, truth.length, 'every push changes open interest');
  const last = truth.at(-1)!;
  const fields = deribitTickerFields(last);
  t.like(derivative.at(-1), {
    eventKey: `ticker:${last.timestamp}`,
    markPrice: fields.mark_price,
    indexPrice: fields.index_price,
    lastPrice: fields.last_price,
    openInterest: fields.open_interest,
    fundingRate: fields.current_funding,
  });
});

test("the simulator's deribit book snapshot and changes normalize to the ground-truth book", (t) => {
  const truth = ticksBetween('bookChange', WINDOW);
  const snapshot = bookSnapshot(MARKET, truth[0]!.updateId - 1);
  const channel = 'book.BTC-PERPETUAL.100ms';
  const messages = [
    deribitBookSnapshot(snapshot, FROM, channel),
    ...truth.map((x) => deribitMessage(x, channel)),
  ];
  t.is((messages[1]!.params.data as { prev_change_id: number }).prev_change_id, snapshot.lastUpdateId);
  const changes = both('book_change', messages, new Date(FROM));
  t.like(changes[0], {
    isSnapshot: true,
    bids: levels(snapshot.bids),
    asks: levels(snapshot.asks),
    ts: FROM * 1000,
  });
  t.deepEqual(
    changes.slice(1).map((x) => (x.type === 'book_change' ? [x.isSnapshot, x.bids, x.asks, x.ts] : 0)),
    truth.map((c) => [false, levels(c.bids), levels(c.asks), c.timestamp * 1000]),
  );
});

/** The simulator's Deribit session on a fake connection and clock: what it replies and subscribes. */
function simulatedSession() {
  let now = FROM;
  const replies: Record<string, unknown>[] = [];
  const subscribed = new Map<string, string>();
  const link = {
    id: 1,
    reply: (m: unknown) => replies.push(m as Record<string, unknown>),
    replyText: () => undefined,
    subscribe: (name: string, symbol: string) => {
      const isNew = !subscribed.has(name);
      subscribed.set(name, symbol);
      return { isNew, source: undefined, nextIndex: 0 };
    },
    unsubscribe: (name: string) => subscribed.delete(name),
    subscriptionNames: () => [...subscribed.keys()],
    countSubscribeRequest: () => undefined,
  };
  const ctx = {
    options: { bookTickerEventTime: false },
    symbols: undefined,
    now: () => now,
    dataNow: () => now,
    isUnlisted: (symbol: string) => symbol === 'xyz-perpetual',
    source: () => undefined,
    recordSnapshot: () => undefined,
    refusingStatus: () => undefined,
  };
  const session = DERIBIT_PROTOCOL.open(link, new URL('ws://x/ws/api/v2'), ctx);
  const call = (id: number, method: string, params: unknown) => {
    session.onMessage(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return replies.at(-1);
  };
  const tick = ticksBetween('trade', WINDOW)[0]!;
  const push = () => session.frame(tick, 'trades.BTC-PERPETUAL.100ms');
  return { replies, subscribed, call, push, advance: (ms: number) => (now += ms) };
}

test('the simulated deribit sends test_request every heartbeat interval and answers public/test', (t) => {
  const s = simulatedSession();
  s.push();
  t.is(s.replies.length, 0, 'no heartbeat before one is set');
  t.like(s.call(0, 'public/set_heartbeat', { interval: 10 }), { jsonrpc: '2.0', id: 0, result: 'ok' });
  t.like(s.call(1, 'public/set_heartbeat', { interval: 9 }), { error: { code: -32602 } });
  s.advance(9_999);
  s.push();
  t.is(s.replies.length, 2);
  s.advance(1);
  s.push();
  s.push();
  const testRequest = { jsonrpc: '2.0', method: 'heartbeat', params: { type: 'test_request' } };
  t.deepEqual(s.replies.slice(2), [testRequest], 'one per interval, on the first push due');
  t.like(s.call(0, 'public/test', {}), { id: 0, result: { version: '1.2.26' } });
  s.advance(10_000);
  s.push();
  t.deepEqual(s.replies.at(-1), testRequest);
});

test('the simulated deribit subscribes what it serves, leaves out the rest silently, and unsubscribes', (t) => {
  const s = simulatedSession();
  const channels = ['trades.BTC-PERPETUAL.100ms', 'book.ETH-PERPETUAL.raw'];
  const refused = [
    'trades.XYZ-PERPETUAL.100ms',
    'trades.BTC-27DEC24.100ms',
    'trades.BTC-PERPETUAL.1s',
    'x.BTC',
  ];
  t.like(s.call(3, 'public/subscribe', { channels: [...channels, ...refused] }), { id: 3, result: channels });
  t.deepEqual(
    [...s.subscribed.entries()],
    [
      ['trades.BTC-PERPETUAL.100ms', 'btc-perpetual'],
      ['book.ETH-PERPETUAL.raw', 'eth-perpetual'],
    ],
  );
  t.like(s.call(4, 'public/subscribe', { channels: 'trades' }), { error: { code: -32602 } });
  t.like(
    s.call(5, 'public/unsubscribe', { channels: ['book.ETH-PERPETUAL.raw', 'ticker.BTC-PERPETUAL.100ms'] }),
    {
      result: ['book.ETH-PERPETUAL.raw'],
    },
  );
  t.deepEqual([...s.subscribed.keys()], ['trades.BTC-PERPETUAL.100ms']);
  t.like(s.call(6, 'private/buy', {}), { error: { code: -32601, message: 'Method not found' } });
});
