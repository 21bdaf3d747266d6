import test from 'ava';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { newGap } from '../../functions/core/gapfill/gaps.ts';
import { HistoryError } from '../../functions/core/gapfill/history.ts';
import { streamId, type StreamKey } from '../../functions/core/model/streams.ts';
import type { FeedEvent, RelayHeartbeat } from '../../functions/core/ports.ts';
import { newCounters } from '../../functions/core/relay/counters.ts';
import { MemoryCheckpointStore } from '../support/doubles/checkpoint-store.ts';
import { ManualClock } from '../support/doubles/clock.ts';
import { MemoryGapLedger } from '../support/doubles/gap-ledger.ts';
import { MemoryGapQueries } from '../support/doubles/gap-queries.ts';
import { MemoryHeartbeatStore } from '../support/doubles/heartbeat-store.ts';
import { MemoryHistorySource } from '../support/doubles/history-source.ts';
import { MemoryLeaseStore } from '../support/doubles/lease-store.ts';
import { MemoryLogger } from '../support/doubles/logger.ts';
import { MemoryPushAuthenticator } from '../support/doubles/push-authenticator.ts';
import { FakeFeed } from '../support/doubles/tick-feed.ts';
import { FakePublisher } from '../support/doubles/tick-publisher.ts';
import { MemoryWarehouse } from '../support/doubles/warehouse.ts';
import { trade } from '../support/ticks.ts';

const T = Date.UTC(2026, 0, 1);
const btc: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };

test('the manual clock stands still until the test advances it', (t) => {
  const clock = new ManualClock(T);
  t.is(clock.now(), T);
  clock.advance(250);
  t.is(clock.now(), T + 250);
});

test("the memory logger keeps every entry, a child's with the child's fields", (t) => {
  const logger = new MemoryLogger();
  logger.log('INFO', 'started', { relayId: 'r1' });
  logger.child({ exchange: 'binance' }).log('WARNING', 'started slowly', { ms: 5 });
  t.deepEqual(logger.with('started slowly'), [
    { severity: 'WARNING', message: 'started slowly', fields: { exchange: 'binance', ms: 5 } },
  ]);
  t.is(logger.with('started').length, 2);
});

test('the fake feed hands pushed events to the running sink and ends when aborted', async (t) => {
  const feed = new FakeFeed();
  const events: FeedEvent[] = [];
  const abort = new AbortController();
  const run = feed.run((event) => events.push(event), abort.signal);
  feed.push({ kind: 'tick', tick: trade(1) });
  abort.abort();
  await run;
  t.deepEqual(events, [{ kind: 'tick', tick: trade(1) }]);
});

test('the fake publisher keeps each published batch decoded and fails when told to', async (t) => {
  const publisher = new FakePublisher();
  const message = encodeBatch({
    stream: btc,
    relayId: 'r1',
    seq: 7,
    window: { from: T, to: T + 100 },
    ticks: [trade(1)],
    rowIds: [undefined],
  });
  t.is(await publisher.publish(message), '1');
  t.is(publisher.published[0]?.seq, 7);
  t.deepEqual(publisher.published[0]?.ticks, [trade(1)]);
  publisher.mode = 'fail';
  await t.throwsAsync(publisher.publish(message), { message: 'UNAVAILABLE' });
  await publisher.close();
  t.is(publisher.closed, 1);
});

test('the memory heartbeat store keeps the latest heartbeat of a relay until it expires', async (t) => {
  const store = new MemoryHeartbeatStore();
  const beat = (updatedAt: number): RelayHeartbeat => ({
    relayId: 'r1',
    revision: null,
    host: null,
    startedAt: T,
    updatedAt,
    ready: true,
    healthy: true,
    lastPublishAt: null,
    streams: [],
    counters: newCounters(),
  });
  await store.write(beat(T + 1), T + 60_000);
  await store.write(beat(T + 2), T + 60_001);
  t.is(store.latest('r1', T + 60_000)?.updatedAt, T + 2);
  t.is(store.latest('r1', T + 60_001), undefined);
});

test('the memory push authenticator accepts its tokens for the push account and its audience only', async (t) => {
  const url = 'https://writer.example/push';
  const auth = new MemoryPushAuthenticator('push@example.iam.gserviceaccount.com', url);
  const good = auth.issue({ email: 'push@example.iam.gserviceaccount.com', email_verified: true });
  const elsewhere = auth.issue(
    { email: 'push@example.iam.gserviceaccount.com', email_verified: true },
    'https://elsewhere.example/push',
  );
  const stranger = auth.issue({ email: 'other@example.com', email_verified: true });
  t.deepEqual(await auth.authenticate(`Bearer ${good}`), { ok: true });
  t.like(await auth.authenticate(`Bearer ${elsewhere}`), { ok: false, status: 401 });
  t.like(await auth.authenticate(`Bearer ${stranger}`), { ok: false, status: 403 });
  t.like(await auth.authenticate('Bearer not-issued'), { ok: false, status: 401 });
  t.like(await auth.authenticate(undefined), { ok: false, status: 401, reason: 'no bearer token' });
});

test('the memory warehouse stores inserted rows and reports the scripted failures', async (t) => {
  const warehouse = new MemoryWarehouse();
  t.deepEqual(await warehouse.insert('trades', [{ insertId: 'a', json: {} }]), []);
  warehouse.script.push({
    kind: 'fail',
    pick: (row) => (row.insertId === 'c' ? { reason: 'invalid', retryable: false } : undefined),
  });
  const failures = await warehouse.insert('trades', [
    { insertId: 'b', json: {} },
    { insertId: 'c', json: {} },
  ]);
  t.deepEqual(failures, [{ index: 1, reason: 'invalid', message: 'scripted', retryable: false }]);
  warehouse.script.push({ kind: 'throw', error: new Error('503') });
  await t.throwsAsync(warehouse.insert('trades', [{ insertId: 'd', json: {} }]), { message: '503' });
  t.deepEqual([...warehouse.uniqueIds('trades')], ['a', 'b']);
});

test('the memory checkpoint store merges advances and never moves a checkpoint back', async (t) => {
  const store = new MemoryCheckpointStore(new ManualClock(T));
  const advance = { stream: btc, lastTradeId: '5', rows: 2, batchId: 'b1' };
  await store.advance({ ...advance, lastTickTs: 2_000, coveredTo: T + 200 });
  const merged = await store.advance({ ...advance, lastTickTs: 1_000, coveredTo: T + 100, batchId: 'b0' });
  t.is(merged.coveredTo, T + 200);
  t.is(merged.committedRows, 4);
  t.deepEqual(await store.get(btc), merged);
  t.deepEqual(await store.list(), [merged]);
});

test('the memory history source serves the stream ticks received in [from, to) and scripted failures', async (t) => {
  const eth = trade(3, { symbol: 'ethusdt' });
  const history = new MemoryHistorySource([trade(1), trade(2), trade(5), eth]);
  const collect = async (from: number, to: number) => {
    const out = [];
    for await (const tick of history.ticks(btc, from, to, new AbortController().signal)) out.push(tick);
    return out;
  };
  // trade(n) was received at T + n + 1.5 ms.
  t.deepEqual(await collect(T + 2, T + 4), [trade(1), trade(2)]);
  history.failures.push(new HistoryError('down', 'unavailable', 503));
  await t.throwsAsync(collect(T, T + 10), { instanceOf: HistoryError });
  t.deepEqual(await collect(T, T + 10), [trade(1), trade(2), trade(5)]);
});

test('the memory gap ledger records a gap once and transitions it only from the expected state', async (t) => {
  const ledger = new MemoryGapLedger();
  const gap = newGap(btc, T, T + 1000, 'coverage', T);
  const later = newGap(btc, T + 5000, T + 6000, 'coverage', T);
  t.true(await ledger.record(later));
  t.true(await ledger.record(gap));
  t.false(await ledger.record(gap));
  t.deepEqual(await ledger.list({ stream: btc }), [gap, later]);
  const filling = { ...gap, state: 'filling' as const, attempts: 1 };
  t.true(await ledger.transition(gap.id, 'open', filling));
  t.false(await ledger.transition(gap.id, 'open', { ...gap, state: 'filled' }));
  t.false(await ledger.transition('no-such-gap', 'open', gap));
  t.deepEqual(await ledger.get(gap.id), filling);
  t.deepEqual(await ledger.list({ states: ['filling'] }), [filling]);
});

test('the memory lease store gives a lease to one holder until it expires or is released', async (t) => {
  const clock = new ManualClock(T);
  const leases = new MemoryLeaseStore(clock);
  t.true(await leases.acquire('gapfill', 'a', 1000));
  t.false(await leases.acquire('gapfill', 'b', 1000));
  t.true(await leases.acquire('gapfill', 'a', 1000));
  clock.advance(1000);
  t.true(await leases.acquire('gapfill', 'b', 1000));
  await leases.release('gapfill', 'a');
  t.false(await leases.acquire('gapfill', 'a', 1000));
  await leases.release('gapfill', 'b');
  t.true(await leases.acquire('gapfill', 'a', 1000));
});

test('the memory gap queries return the windows overlapping a range in order, and jumps in trade ids', async (t) => {
  const stream: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };
  const other: StreamKey = { ...stream, symbol: 'ethusdt' };
  const queries = new MemoryGapQueries();
  queries.addCoverage(stream, 300, 400);
  queries.addCoverage(stream, 100, 200);
  queries.addCoverage(stream, 500, 600);
  queries.addCoverage(other, 100, 600);
  const windows = await queries.coverageWindows([stream], { from: 150, to: 500 });
  t.deepEqual(windows.get(streamId(stream)), [
    { from: 100, to: 200 },
    { from: 300, to: 400 },
  ]);
  for (const [id, at] of [
    [1, 110],
    [2, 120],
    [2, 125],
    [5, 130],
    [6, 140],
    [9, 700],
  ] as const) {
    queries.addTrade(stream, id, at);
  }
  const jumps = await queries.tradeIdJumps([stream, other], { from: 100, to: 600 });
  t.deepEqual(jumps.get(streamId(stream)), [{ before: 120, after: 130 }]);
  t.deepEqual(jumps.get(streamId(other)), []);
});
