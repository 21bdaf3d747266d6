// The mix a local run records (scripts/local/stream-mix.ts): derived from the exchange descriptors and
// the simulator's protocol table, narrowed by --exchanges / --types / --symbols with clear errors.
import test from 'ava';
import { EXCHANGES } from '../../functions/core/exchanges/index.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import { PROTOCOLS } from '../../scripts/local/exchange/protocols.ts';
import {
  defaultMix,
  localBatchWaitMs,
  mixFromFlags,
  mixStreams,
  simulatedTypes,
  streamsConfigOf,
} from '../../scripts/local/stream-mix.ts';

test('the default mix is every simulated exchange with every type its descriptor records', (t) => {
  const mix = defaultMix();
  const simulated = Object.keys(EXCHANGES).filter((id) => Object.hasOwn(PROTOCOLS, id));
  t.deepEqual(
    mix.map((m) => m.exchange),
    simulated,
  );
  for (const m of mix) {
    const recorded = Object.keys(EXCHANGES[m.exchange]!.channels);
    t.deepEqual(
      [...m.types].sort(),
      recorded.filter((ty) => simulatedTypes(m.exchange).includes(ty as never)).sort(),
    );
    t.deepEqual(m.symbols, [EXCHANGES[m.exchange]!.symbol.example]);
  }
  t.true(mix.length >= 2);
  for (const type of ['trade', 'book_ticker', 'book_change'] as const) {
    t.true(mix.find((m) => m.exchange === 'binance')!.types.includes(type), `binance ${type}`);
    t.true(mix.find((m) => m.exchange === 'coinbase')!.types.includes(type), `coinbase ${type}`);
  }
  t.true(mix.some((m) => m.types.includes('book_change')));
});

test('the mix is a valid relay stream list', (t) => {
  const mix = defaultMix();
  t.is(parseStreamsConfig(streamsConfigOf(mix)).length, mixStreams(mix).length);
});

test('a live mix has every recorded exchange and type, simulated or not', (t) => {
  t.deepEqual(
    defaultMix(true).map((m) => m.exchange),
    Object.keys(EXCHANGES),
  );
});

test('--exchanges and --types narrow the mix; symbols go to the exchanges whose shape fits them', (t) => {
  const mix = mixFromFlags(defaultMix(), {
    exchanges: 'binance,coinbase',
    types: 'trade',
    symbols: 'ethusdt,solusdt,eth-usd',
  });
  t.deepEqual(mix, [
    { exchange: 'binance', symbols: ['ethusdt', 'solusdt'], types: ['trade'] },
    { exchange: 'coinbase', symbols: ['eth-usd'], types: ['trade'] },
  ]);
  const kept = mixFromFlags(defaultMix(), { exchanges: 'coinbase,binance', symbols: 'ethusdt' });
  t.deepEqual(
    kept.find((m) => m.exchange === 'coinbase')?.symbols,
    ['btc-usd'],
    'no fitting symbol: default',
  );
});

test('unknown names are refused with the known ones listed', (t) => {
  t.throws(() => mixFromFlags(defaultMix(), { exchanges: 'kraken' }), {
    message: /unknown exchange "kraken" \(known: binance, coinbase/,
  });
  t.throws(() => mixFromFlags(defaultMix(), { types: 'funding' }), {
    message: /unknown data type "funding" \(known: trade, book_ticker, book_change/,
  });
  t.throws(() => mixFromFlags(defaultMix(), { exchanges: 'coinbase', symbols: 'btcusdt' }), {
    message: /symbol btcusdt fits no selected exchange \(coinbase e\.g\. btc-usd\)/,
  });
  t.throws(() => mixFromFlags(defaultMix(), { types: ' , ' }), { message: '--types names nothing' });
});

test('batches wait longer as the mix grows: about 15 messages per second', (t) => {
  const one = (n: number) => [
    {
      exchange: 'binance',
      symbols: Array.from({ length: n }, (_, i) => `s${i}usdt`),
      types: ['trade' as const],
    },
  ];
  t.is(localBatchWaitMs(one(1)), 100);
  t.is(localBatchWaitMs(one(3)), 200);
  t.is(localBatchWaitMs(one(6)), 400);
  t.is(localBatchWaitMs(one(25)), 1667);
});
