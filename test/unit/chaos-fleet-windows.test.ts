import test from 'ava';
import { faultWindows } from '../../scripts/chaos/fleet-measure.ts';
import type { ExpectedStream } from '../../scripts/local/verify-mix.ts';

const A: ExpectedStream = {
  exchange: 'binance',
  symbol: 'btcusdt',
  type: 'trade',
  range: { firstId: 1, lastId: 9 },
};
const B: ExpectedStream = { ...A, symbol: 'ethusdt' };
const LAST = 100_000;
/** A redeploy [10 s, 30 s) and, after a pause, every replica of A's shard killed at 34 s. */
const RECORDS = [
  { start: 10_000, end: 30_000 },
  { start: 34_000, end: 36_000 },
];

function windows(runs: { stream: string; fromTs: number; toTs: number }[], gaps = [] as never[]) {
  return faultWindows(RECORDS, [A, B], runs, gaps, () => LAST);
}

test('without holes a fault runs from its start to the next one, the last to the last tick sent', (t) => {
  const [first, second] = windows([]);
  t.deepEqual(first!.get('binance:btcusdt:trade'), { from: 10_000, to: 34_000 });
  t.deepEqual(second!.get('binance:btcusdt:trade'), { from: 34_000, to: LAST + 1 });
});

test("the unpublished tail a kill loses is the kill's hole, not the previous fault's", (t) => {
  // 300 ms of trades the killed primary had not published, then nothing live until 40 s.
  const [first, second] = windows([{ stream: 'binance:btcusdt:trade', fromTs: 33_700, toTs: 40_000 }]);
  t.deepEqual(first!.get('binance:btcusdt:trade'), { from: 10_000, to: 33_700 });
  t.deepEqual(second!.get('binance:btcusdt:trade'), { from: 33_700, to: LAST + 1 });
  t.deepEqual(first!.get('binance:ethusdt:trade'), { from: 10_000, to: 34_000 }, 'other streams keep theirs');
});

test('a recorded gap moves the boundary too (streams without contiguous ids)', (t) => {
  const gap = { stream: { exchange: 'binance', symbol: 'ethusdt', type: 'trade' }, from: 33_900, to: 39_000 };
  const [first] = faultWindows(RECORDS, [A, B], [], [gap] as never[], () => LAST);
  t.deepEqual(first!.get('binance:ethusdt:trade'), { from: 10_000, to: 33_900 });
});

test('a hole that began before the previous fault was over stays that fault’s (and is the next one’s too)', (t) => {
  // Started during the redeploy (before its end at 30 s): the redeploy keeps it whole.
  const [first, second] = windows([{ stream: 'binance:btcusdt:trade', fromTs: 29_000, toTs: 35_000 }]);
  t.deepEqual(first!.get('binance:btcusdt:trade'), { from: 10_000, to: 34_000 });
  t.deepEqual(second!.get('binance:btcusdt:trade'), { from: 34_000, to: LAST + 1 });
});

test('a hole closed before the next fault began stays with the fault before it', (t) => {
  const [first] = windows([{ stream: 'binance:btcusdt:trade', fromTs: 31_000, toTs: 32_000 }]);
  t.deepEqual(first!.get('binance:btcusdt:trade'), { from: 10_000, to: 34_000 });
});
