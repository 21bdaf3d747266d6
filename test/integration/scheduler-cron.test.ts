// The scheduler stand-in's pure rules: unix-cron schedules and retry backoff.
import test from 'ava';
import { CronError, parseCron } from '../../scripts/local/scheduler/cron.ts';
import { backoffMs, codeForHttpStatus, retryPolicy } from '../../scripts/local/scheduler/policy.ts';

const at = (iso: string) => Date.parse(iso);
const nextAfter = (schedule: string, iso: string, tz?: string) =>
  new Date(parseCron(schedule, tz).next(at(iso))).toISOString();

test('"* * * * *" fires at the start of every minute, strictly after the given time', (t) => {
  t.is(nextAfter('* * * * *', '2026-11-26T18:00:00.000Z'), '2026-11-26T18:01:00.000Z');
  t.is(nextAfter('* * * * *', '2026-11-26T18:00:59.999Z'), '2026-11-26T18:01:00.000Z');
  t.is(nextAfter('* * * * *', '2026-12-31T23:59:30.000Z'), '2027-01-01T00:00:00.000Z');
});

test('steps, ranges, lists and names select the right times', (t) => {
  t.is(nextAfter('*/15 * * * *', '2026-11-26T18:01:00Z'), '2026-11-26T18:15:00.000Z');
  t.is(nextAfter('5/20 * * * *', '2026-11-26T18:26:00Z'), '2026-11-26T18:45:00.000Z');
  t.is(nextAfter('0 9-17/4 * * *', '2026-11-26T14:00:00Z'), '2026-11-26T17:00:00.000Z');
  t.is(nextAfter('30 6,18 * * *', '2026-11-26T18:30:00Z'), '2026-11-27T06:30:00.000Z');
  t.is(nextAfter('0 0 1 jan *', '2026-11-26T00:00:00Z'), '2027-01-01T00:00:00.000Z');
  // 2026-11-26 is a Thursday.
  t.is(nextAfter('0 12 * * MON-FRI', '2026-11-27T12:00:00Z'), '2026-11-30T12:00:00.000Z');
  t.is(nextAfter('0 12 * * 7', '2026-11-26T00:00:00Z'), '2026-11-29T12:00:00.000Z', '7 is Sunday');
});

test('when both day fields are restricted, a day matching either one fires', (t) => {
  // The 1st of the month or a Sunday: Sunday 29 November comes first.
  t.is(nextAfter('0 0 1 * SUN', '2026-11-26T00:00:00Z'), '2026-11-29T00:00:00.000Z');
  t.is(nextAfter('0 0 29 2 *', '2026-03-01T00:00:00Z'), '2028-02-29T00:00:00.000Z');
});

test('a schedule is evaluated in its time zone, daylight saving included', (t) => {
  t.is(nextAfter('0 9 * * *', '2026-01-15T00:00:00Z', 'America/New_York'), '2026-01-15T14:00:00.000Z');
  t.is(nextAfter('0 9 * * *', '2026-07-15T00:00:00Z', 'America/New_York'), '2026-07-15T13:00:00.000Z');
  t.is(nextAfter('30 * * * *', '2026-07-15T00:00:00Z', 'Asia/Kolkata'), '2026-07-15T01:00:00.000Z');
});

test('invalid schedules and time zones are refused with the bad part named', (t) => {
  t.throws(() => parseCron('* * * *'), { instanceOf: CronError, message: /5 fields/ });
  t.throws(() => parseCron('60 * * * *'), { instanceOf: CronError, message: /minute "60"/ });
  t.throws(() => parseCron('* * 0 * *'), { instanceOf: CronError, message: /day of month "0"/ });
  t.throws(() => parseCron('* * * * */0'), { instanceOf: CronError, message: /step/ });
  t.throws(() => parseCron('5-1 * * * *'), { instanceOf: CronError, message: /backwards/ });
  t.throws(() => parseCron('* * * * *', 'Mars/Olympus'), { instanceOf: CronError, message: /time zone/ });
  t.throws(() => parseCron('0 0 31 2 *').next(Date.now()), { instanceOf: CronError, message: /never fires/ });
});

test('retry backoff doubles maxDoublings times, then grows linearly, capped at maxBackoff', (t) => {
  const policy = retryPolicy({
    retryCount: 5,
    minBackoffDuration: { seconds: 10 },
    maxBackoffDuration: { seconds: 300 },
    maxDoublings: 3,
  });
  t.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((i) => backoffMs(i, policy) / 1000),
    [10, 20, 40, 80, 160, 240, 300, 300],
  );
  const defaults = retryPolicy(undefined);
  t.is(defaults.retryCount, 0);
  t.is(backoffMs(0, defaults), 5000);
});

test('HTTP answers map to the status codes a job records', (t) => {
  t.is(codeForHttpStatus(200), 0);
  t.is(codeForHttpStatus(204), 0);
  t.is(codeForHttpStatus(404), 5);
  t.is(codeForHttpStatus(500), 13);
  t.is(codeForHttpStatus(503), 14);
  t.is(codeForHttpStatus(418), 2);
});
