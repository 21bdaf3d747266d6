import test from 'ava';
import {
  derivativeTickersBetween,
  GROUND_TRUTH_EPOCH_MS,
  liquidationsBetween,
  tickSource,
  tradesBetween,
} from '../../scripts/local/exchange/ground-truth.ts';

const stream = { seed: 7, exchange: 'binance-futures', symbol: 'BTCUSDT', rate: 50 };
const from = GROUND_TRUTH_EPOCH_MS + 3 * 86_400_000 + 123;
const window = { ...stream, from, to: from + 30_000 };

test('a 30 s run has about one ticker a second and a few liquidations, at modest rates of their own', (t) => {
  const tickers = derivativeTickersBetween(window);
  const liquidations = liquidationsBetween(window);
  t.true(tickers.length >= 29 && tickers.length <= 31, `${tickers.length} tickers`);
  t.true(liquidations.length >= 6 && liquidations.length <= 8, `${liquidations.length} liquidations`);
  t.is(tradesBetween(window).length, 1500, 'the stream rate still drives trades');
  // A stream slower than the caps keeps its own rate.
  t.is(derivativeTickersBetween({ ...window, rate: 0.1 }).length, 3);
});

test('the derivatives kinds are deterministic and any window is reproducible alone', (t) => {
  const whole = derivativeTickersBetween(window);
  const halves = [
    ...derivativeTickersBetween({ ...window, to: from + 12_345 }),
    ...derivativeTickersBetween({ ...window, from: from + 12_345 }),
  ];
  t.deepEqual(halves, whole);
  t.deepEqual(liquidationsBetween(window), liquidationsBetween({ ...window }));
  t.notDeepEqual(derivativeTickersBetween({ ...window, seed: 8 }), whole, 'another seed is another market');
  const source = tickSource('liquidation', stream);
  const first = liquidationsBetween(window)[0]!;
  t.deepEqual(source.tick(first.index), first);
  t.is(source.indexAtOrAfter(first.timestamp), first.index);
});

test('every ticker value changes at every tick, so a change-only normalizer emits each message', (t) => {
  const tickers = derivativeTickersBetween(window);
  for (let i = 1; i < tickers.length; i++) {
    const [a, b] = [tickers[i - 1]!, tickers[i]!];
    t.is(b.updateId, a.updateId + 1);
    t.true(b.timestamp > a.timestamp);
    for (const field of [
      'markPrice',
      'indexPrice',
      'lastPrice',
      'fundingRate',
      'predictedFundingRate',
      'openInterest',
    ] as const) {
      t.not(b[field], a[field], `${field} at ${b.index}`);
    }
  }
});

test('ticker and liquidation values are what a venue would publish', (t) => {
  for (const ticker of derivativeTickersBetween(window)) {
    t.regex(ticker.markPrice, /^\d+\.\d{4}$/);
    t.regex(ticker.lastPrice, /^\d+\.\d{2}$/);
    t.regex(ticker.fundingRate, /^-?0\.\d{8}$/);
    t.true(Math.abs(Number(ticker.markPrice) - Number(ticker.lastPrice)) < 0.05 * Number(ticker.lastPrice));
    t.true(ticker.fundingTime > ticker.timestamp && ticker.fundingTime % (8 * 3_600_000) === 0);
    t.true(Number(ticker.openInterest) > 0);
  }
  const liquidations = liquidationsBetween({ ...window, to: from + 600_000 });
  t.deepEqual([...new Set(liquidations.map((l) => l.side))].sort(), ['buy', 'sell']);
  for (const l of liquidations) {
    t.true(Number(l.price) > 0 && Number(l.qty) > 0);
    t.is(l.id, l.index + 1);
  }
});
