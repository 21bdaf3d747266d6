import test from 'ava';
import {
  holes,
  mergeIntervals,
  splitAligned,
  subtract,
  totalLength,
} from '../../functions/core/shared/intervals.ts';
import { seededRandom } from '../../scripts/local/seeded-random.ts';

test('touching and overlapping intervals merge', (t) => {
  t.deepEqual(
    mergeIntervals([
      { from: 5, to: 8 },
      { from: 0, to: 2 },
      { from: 2, to: 4 },
      { from: 7, to: 10 },
      { from: 3, to: 3 },
    ]),
    [
      { from: 0, to: 4 },
      { from: 5, to: 10 },
    ],
  );
});

test('holes are the uncovered parts of the range, including both ends', (t) => {
  t.deepEqual(
    holes(
      [
        { from: 10, to: 20 },
        { from: 30, to: 40 },
      ],
      { from: 0, to: 50 },
    ),
    [
      { from: 0, to: 10 },
      { from: 20, to: 30 },
      { from: 40, to: 50 },
    ],
  );
  t.deepEqual(holes([{ from: 0, to: 100 }], { from: 10, to: 20 }), []);
});

test('covered time plus holes is exactly the range, for random coverage', (t) => {
  const random = seededRandom(9);
  for (let round = 0; round < 200; round++) {
    const covered = Array.from({ length: 10 }, () => {
      const from = Math.floor(random() * 1000);
      return { from, to: from + Math.floor(random() * 100) };
    });
    const within = { from: 100, to: 900 };
    const gaps = holes(covered, within);
    const inside = mergeIntervals(covered).flatMap((c) => {
      const from = Math.max(c.from, within.from);
      const to = Math.min(c.to, within.to);
      return to > from ? [{ from, to }] : [];
    });
    t.is(totalLength(gaps) + totalLength(inside), 800);
    t.deepEqual(subtract(gaps, covered), gaps);
  }
});

test('long intervals split on aligned boundaries', (t) => {
  t.deepEqual(splitAligned({ from: 50, to: 250 }, 100), [
    { from: 50, to: 100 },
    { from: 100, to: 200 },
    { from: 200, to: 250 },
  ]);
});
