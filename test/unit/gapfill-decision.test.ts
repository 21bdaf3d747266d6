import test from 'ava';
import { TransientInsertError } from '../../functions/core/shared/durable-insert.ts';
import {
  attemptFailure,
  decideFill,
  dueForFill,
  KEY_REFUSED,
  refusedKeyPause,
  retryInterrupted,
  startAttempt,
  type Attempt,
  type AttemptFailure,
} from '../../functions/core/gapfill/fill-decision.ts';
import { newGap, type Gap } from '../../functions/core/gapfill/gaps.ts';
import { HistoryError } from '../../functions/core/gapfill/history.ts';
import { DEFAULT_GAPFILL_OPTIONS as OPTIONS } from '../../functions/core/gapfill/options.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';

const STREAM: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };
const NOW = Date.parse('2026-03-01T12:00:00Z');
const TIMING = { settleMs: 20_000, availabilityDelayMs: 300_000 };

/** A gap as an attempt on it starts, after `attempts` attempts in all. */
function filling(attempts: number): Gap {
  const gap = newGap(STREAM, NOW - 3_600_000, NOW - 3_000_000, 'coverage', NOW - 3_000_000, TIMING);
  return { ...gap, state: 'filling', attempts };
}

function failed(failure: Partial<AttemptFailure>): Attempt {
  return { ok: false, failure: { history: null, message: 'boom', timedOut: false, ...failure } };
}

test('a successful attempt fills the gap with its row count and clears the reason', (t) => {
  const start = { ...filling(2), reason: 'earlier failure' };
  const { next, outcome } = decideFill(start, { ok: true, rows: 42 }, NOW, OPTIONS);
  t.is(outcome, 'filled');
  t.deepEqual(next, {
    ...start,
    state: 'filled',
    rowsBackfilled: 42,
    reason: null,
    filledAt: NOW,
    updatedAt: NOW,
  });
});

test('a refused API key fails the gap for unauthorizedBackoffMs and stops the run', (t) => {
  const { next, outcome } = decideFill(
    filling(1),
    failed({ history: 'unauthorized', message: '401' }),
    NOW,
    OPTIONS,
  );
  t.is(outcome, 'unauthorized');
  t.is(next.state, 'failed');
  t.is(next.reason, `${KEY_REFUSED}: 401`);
  t.is(next.nextAttemptAt, NOW + OPTIONS.unauthorizedBackoffMs);
  t.is(next.updatedAt, NOW);
});

test('a refused API key never makes a gap unfillable, however many attempts were made', (t) => {
  const attempt = failed({ history: 'unauthorized', message: '403' });
  const { next, outcome } = decideFill(filling(OPTIONS.maxAttempts + 5), attempt, NOW, OPTIONS);
  t.is(outcome, 'unauthorized');
  t.is(next.state, 'failed');
});

test('a window outside the history provider data is unfillable at the first attempt', (t) => {
  const attempt = failed({ history: 'out_of_range', message: 'HTTP 400' });
  const { next, outcome } = decideFill(filling(1), attempt, NOW, OPTIONS);
  t.is(outcome, 'unfillable');
  t.is(next.state, 'unfillable');
  t.is(next.reason, 'outside history coverage: HTTP 400');
  t.is(next.updatedAt, NOW);
});

test('a transient failure below maxAttempts is retried after a backoff between half and all of retryBaseMs', (t) => {
  for (const history of ['unavailable', null] as const) {
    const low = decideFill(filling(1), failed({ history, message: 'HTTP 503' }), NOW, OPTIONS, () => 0);
    t.is(low.outcome, 'failed');
    t.is(low.next.state, 'failed');
    t.is(low.next.reason, 'HTTP 503');
    t.is(low.next.nextAttemptAt, NOW + OPTIONS.retryBaseMs / 2);
    const high = decideFill(filling(1), failed({ history }), NOW, OPTIONS, () => 0.999_999);
    t.is(high.next.nextAttemptAt, NOW + OPTIONS.retryBaseMs - 1);
  }
});

test('the retry backoff doubles with each attempt and stops growing at retryMaxMs', (t) => {
  const wait = (attempts: number) =>
    decideFill(filling(attempts), failed({}), NOW, { ...OPTIONS, maxAttempts: 100 }, () => 0).next
      .nextAttemptAt - NOW;
  t.is(wait(2), OPTIONS.retryBaseMs);
  t.is(wait(3), 2 * OPTIONS.retryBaseMs);
  t.is(wait(20), OPTIONS.retryMaxMs / 2);
  const top = decideFill(filling(20), failed({}), NOW, { ...OPTIONS, maxAttempts: 100 }, () => 0.999_999);
  t.is(top.next.nextAttemptAt - NOW, OPTIONS.retryMaxMs - 1);
});

test('a failure at maxAttempts makes the gap unfillable and says how many attempts were made', (t) => {
  const { next, outcome } = decideFill(
    filling(OPTIONS.maxAttempts),
    failed({ message: 'HTTP 503' }),
    NOW,
    OPTIONS,
  );
  t.is(outcome, 'unfillable');
  t.is(next.state, 'unfillable');
  t.is(next.reason, `gave up after ${OPTIONS.maxAttempts} attempts: HTTP 503`);
});

test('an attempt ended by its deadline is retried with the timeout named in the reason', (t) => {
  const { next, outcome } = decideFill(
    filling(1),
    failed({ timedOut: true, message: 'aborted' }),
    NOW,
    OPTIONS,
  );
  t.is(outcome, 'failed');
  t.is(next.reason, `attempt timed out after ${OPTIONS.attemptTimeoutMs} ms: aborted`);
});

test('a thrown history error is classified by its failure kind', (t) => {
  const error = new HistoryError('refused', 'unauthorized', 401);
  t.deepEqual(attemptFailure(error, false), { history: 'unauthorized', message: 'refused', timedOut: false });
});

test('an error after the deadline fired is a timeout unless it is a refused insert', (t) => {
  t.true(attemptFailure(new Error('fill attempt aborted'), true).timedOut);
  t.false(attemptFailure(new Error('socket hang up'), false).timedOut);
  t.false(attemptFailure(new TransientInsertError('quarantine refused 1 rows'), true).timedOut);
});

test('a thrown value that is not an Error is described as text', (t) => {
  t.deepEqual(attemptFailure('nope', false), { history: null, message: 'nope', timedOut: false });
});

test('an attempt starts by marking the gap filling, counting the attempt and recording when it became fillable', (t) => {
  const open = {
    ...newGap(STREAM, NOW - 600_000, NOW - 500_000, 'relay_startup', NOW - 500_000),
    attempts: 2,
  };
  t.is(open.fillableAt, null);
  const started = startAttempt(open, NOW, TIMING);
  t.deepEqual(started, {
    ...open,
    state: 'filling',
    attempts: 3,
    fillableAt: open.to + TIMING.availabilityDelayMs,
    updatedAt: NOW,
  });
  t.is(startAttempt({ ...open, fillableAt: 123 }, NOW, TIMING).fillableAt, 123);
});

test('a gap left filling by an interrupted run is failed and due at once', (t) => {
  const gap = filling(3);
  t.deepEqual(retryInterrupted(gap, NOW), {
    ...gap,
    state: 'failed',
    reason: 'interrupted run',
    nextAttemptAt: NOW,
    updatedAt: NOW,
  });
});

test('gaps are tried oldest first, only once past their backoff and fillable', (t) => {
  const gap = (from: number, changes: Partial<Gap> = {}): Gap => ({
    ...newGap(STREAM, from, from + 60_000, 'coverage', NOW - 3_600_000, TIMING),
    ...changes,
  });
  const late = gap(NOW - 2_000_000);
  const early = gap(NOW - 3_000_000);
  const backingOff = gap(NOW - 2_500_000, { state: 'failed', nextAttemptAt: NOW + 1 });
  const notYetFillable = gap(NOW - 200_000);
  const fromItsEnd = gap(NOW - 1_000_000, { fillableAt: null });
  const fillableNow = gap(NOW - 60_000 - TIMING.availabilityDelayMs, {});
  t.deepEqual(
    dueForFill([late, backingOff, notYetFillable, early, fromItsEnd, fillableNow], NOW, TIMING).map(
      (g) => g.id,
    ),
    [early.id, late.id, fromItsEnd.id, fillableNow.id],
  );
});

test('a refused key pauses all fills until its backoff has passed', (t) => {
  const refused = {
    ...filling(1),
    state: 'failed' as const,
    reason: `${KEY_REFUSED}: 401`,
    nextAttemptAt: NOW + 1,
  };
  const other = { ...filling(1), state: 'failed' as const, reason: 'HTTP 503', nextAttemptAt: NOW + 1 };
  t.is(refusedKeyPause([other, refused], NOW), refused);
  t.is(refusedKeyPause([other, { ...refused, nextAttemptAt: NOW }], NOW), undefined);
  t.is(refusedKeyPause([other], NOW), undefined);
});
