/**
 * Drives the relay, writer and gap-filler cores (over the in-memory doubles) into every signal they can
 * reach without a process or a socket, through the real JSON logger: the lines are what Cloud Logging
 * would receive on stdout. Signals logged only by a composition root or an adapter are listed in
 * SIGNALS_OUTSIDE_SCENARIOS with where they are written.
 */
import type { Batch } from '../../functions/core/contract/batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { encodeBatchV1 } from '../../functions/core/contract/message-v1.ts';
import { runGapfill } from '../../functions/core/gapfill/gapfill-service.ts';
import { DEFAULT_GAPFILL_OPTIONS } from '../../functions/core/gapfill/options.ts';
import { HistoryError } from '../../functions/core/gapfill/history.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import type { CheckpointStore, GapQueries, Logger, PushAuthenticator } from '../../functions/core/ports.ts';
import { RelayService } from '../../functions/core/relay/relay-service.ts';
import { jsonLogger } from '../../functions/core/shared/logger.ts';
import type { SignalName } from '../../functions/core/shared/signals.ts';
import { CheckpointCoalescer } from '../../functions/core/writer/checkpoint-coalescer.ts';
import { createWriter } from '../../functions/core/writer/writer.ts';
import { createGapfillHandler } from '../../functions/gapfill/handler.ts';
import { createPushHandler } from '../../functions/writer/handler.ts';
import { MemoryCheckpointStore, storeWithAdvance } from './doubles/checkpoint-store.ts';
import { ManualClock } from './doubles/clock.ts';
import { MemoryGapLedger } from './doubles/gap-ledger.ts';
import { MemoryGapQueries } from './doubles/gap-queries.ts';
import { MemoryHistorySource } from './doubles/history-source.ts';
import { MemoryLeaseStore } from './doubles/lease-store.ts';
import { FakeFeed } from './doubles/tick-feed.ts';
import { FakePublisher } from './doubles/tick-publisher.ts';
import { MemoryWarehouse } from './doubles/warehouse.ts';
import { trade } from './ticks.ts';

/** Signals no scenario here reaches, and the file that logs each (checked to call logSignal with it). */
export const SIGNALS_OUTSIDE_SCENARIOS: Readonly<Partial<Record<SignalName, string>>> = {
  relay_shutdown_abandoned: 'functions/relay/main.ts',
  relay_stream_refused: 'functions/relay/main.ts', // a real relay: test/integration/relay-config.test.ts
  relay_feed_failed: 'functions/relay/main.ts',
  relay_stream_failed: 'functions/adapters/tardis/live-feed.ts', // a real relay: relay-bad-frame.test.ts
  // The fleet's: unit-tested in test/unit/fleet-signals.test.ts; a real fleet: test/integration/fleet-takeover.test.ts.
  fleet_takeover: 'functions/core/relay/fleet-coordinator.ts',
  fleet_replay_hole: 'functions/core/relay/fleet-coordinator.ts',
  fleet_step_down: 'functions/core/relay/fleet-coordinator.ts',
  fleet_shard_unowned: 'functions/core/relay/fleet-reporter.ts',
  fleet_handover_abandoned: 'functions/core/relay/fleet-relay.ts',
  relay_replay_overflow: 'functions/core/relay/fleet-shard.ts',
  writer_body_refused: 'functions/writer/index.ts',
  // A bug meeting data: nothing in the planner throws on purpose, so no input reaches it.
  writer_processing_error: 'functions/core/writer/writer.ts',
};

/** One parsed stdout line, and what the run counted, to hold the lines against the code's counters. */
export interface ScenarioLines {
  readonly lines: Record<string, unknown>[];
  readonly relayCounters: { ticksLost: number; uncoveredMs: number; lostBatches: number };
  readonly writerQuarantinedTicks: number;
}

const T0 = Date.UTC(2026, 0, 2, 12);
const STREAM: StreamKey = { exchange: 'binance', symbol: 'btcusdt', type: 'trade' };
const MINUTE = 60_000;
const settle = () => new Promise((r) => setImmediate(r));
/** Answers both handlers' responses and keeps nothing. */
interface AnyResponse {
  status(code: number): AnyResponse;
  json(body: unknown): unknown;
  send(body: string): unknown;
}
const response: AnyResponse = { status: () => response, json: () => undefined, send: () => undefined };

export async function runSignalScenarios(): Promise<ScenarioLines> {
  const lines: Record<string, unknown>[] = [];
  const logger = jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const relayCounters = await relayScenarios(logger);
  const writerQuarantinedTicks = await writerScenarios(logger);
  await gapfillScenarios(logger);
  return { lines, relayCounters, writerQuarantinedTicks };
}

/** A failed publish, a full publisher backlog, a lost connection. */
async function relayScenarios(logger: Logger): Promise<ScenarioLines['relayCounters']> {
  const clock = new ManualClock(T0);
  const feed = new FakeFeed();
  const publisher = new FakePublisher();
  const limits = { maxTicks: 1000, maxBytes: 1 << 20, maxWaitMs: 100, heartbeatMs: 1000 };
  const relay = new RelayService(feed, publisher, clock, logger, {
    relayId: 'r1',
    streams: [STREAM],
    limits,
    maxInFlightBytes: 600,
    tickIntervalMs: 3_600_000,
  });
  void relay.start();
  const tickAt = (n: number) => {
    clock.time = T0 + n * 150;
    feed.push({ kind: 'tick', tick: trade(n, { localTs: clock.time * 1000 + 250 }) });
    relay.tick();
  };
  publisher.mode = 'fail';
  for (let n = 0; n < 3; n++) tickAt(n);
  await settle();
  publisher.mode = 'hang';
  for (let n = 3; n < 10; n++) tickAt(n);
  feed.push({ kind: 'disconnect', exchange: 'binance', symbols: undefined, at: clock.time });
  for (const pending of publisher.pending) pending.resolve();
  publisher.mode = 'ok';
  await relay.stop();
  const c = relay.counters;
  return {
    ticksLost: c.ticksLostPublish + c.ticksLostBackpressure,
    uncoveredMs: c.uncoveredMs,
    lostBatches: c.publishFailures + c.backpressureDrops,
  };
}

/** Not a push, a poison message, bad ticks, a delivery that is not durable, refused and unverifiable tokens, a failing checkpoint write. */
async function writerScenarios(logger: Logger): Promise<number> {
  const clock = new ManualClock(T0);
  const inner = new MemoryCheckpointStore(clock);
  let checkpointFailures = 1;
  const store: CheckpointStore = storeWithAdvance(inner, async (a) => {
    if (checkpointFailures-- > 0) throw new Error('UNAVAILABLE: checkpoint write');
    return inner.advance(a);
  });
  const checkpoints = new CheckpointCoalescer(store, clock, logger, 0);
  const warehouse = new MemoryWarehouse();
  const options = { retryBaseMs: 1, insertAttempts: 2 };
  const writer = createWriter({ warehouse, checkpoints, clock, logger, options, sleep: async () => {} });
  const push = (data: Buffer | string, id: string, attributes: Record<string, string> = {}) => ({
    message: { data: Buffer.isBuffer(data) ? data.toString('base64') : data, attributes, messageId: id },
    subscription: 'projects/p/subscriptions/s',
  });
  const window = { from: T0 - 1000, to: T0 - 900 };
  const batch = (ticks: TradeTick[], seq: number): Batch => ({
    stream: STREAM,
    relayId: 'r1',
    seq,
    window,
    ticks,
    rowIds: ticks.map(rowId),
  });

  await writer.handle({ not: 'a push' });
  await writer.handle(push('{"v":4}', 'poison'));
  const good = trade(1001, { ts: (T0 - 950) * 1000, localTs: (T0 - 950) * 1000 + 5 });
  const body = JSON.parse(encodeBatchV1(batch([], 1)).data.toString()) as Record<string, unknown>;
  body.t = [
    [rowId(good), good.id, good.price, good.amount, good.side, good.ts, good.localTs],
    ['binance:btcusdt:t:1002', '1002', '__HUGE__', 1, 'buy', good.ts, good.localTs],
    'not an array',
  ];
  // 1e400 parses as Infinity: a decodable tick with an invalid price (invalid_tick).
  const text = JSON.stringify(body).replace('"__HUGE__"', '1e400');
  const bad = await writer.handle(push(Buffer.from(text), 'bad-ticks'));
  await checkpoints.flush();
  warehouse.script.push(...[1, 2, 3].map(() => ({ kind: 'throw' as const, error: new Error('503') })));
  const message = encodeBatch(batch([trade(2001)], 2));
  await writer.handle(push(message.data, 'not-durable', message.attributes));

  const refusing: PushAuthenticator = {
    authenticate: async (authorization) =>
      authorization
        ? { ok: false, status: 503, reason: 'certificates unreachable' }
        : { ok: false, status: 401, reason: 'no bearer token' },
  };
  const handle = createPushHandler({ writer, auth: refusing, logger, projectId: 'proj-1' });
  await handle({ method: 'POST', body: {}, get: () => undefined }, response);
  await handle(
    { method: 'POST', body: {}, get: (h) => (h === 'authorization' ? 'Bearer t' : undefined) },
    response,
  );
  await checkpoints.close();
  return bad.quarantined;
}

/**
 * One stream with a coverage hole of 15 minutes (two gaps on the 15-minute grid): one fill fails, one
 * is out of the provider's range (unfillable); the next run meets a refused key; a third run fails.
 */
async function gapfillScenarios(logger: Logger): Promise<void> {
  const clock = new ManualClock(T0);
  const gapQueries = new MemoryGapQueries();
  gapQueries.addCoverage(STREAM, T0 - 60 * MINUTE, T0 - 40 * MINUTE);
  gapQueries.addCoverage(STREAM, T0 - 25 * MINUTE, T0);
  const checkpoints = new MemoryCheckpointStore(clock);
  await checkpoints.advance({
    stream: STREAM,
    lastTickTs: (T0 - 2000) * 1000,
    lastTradeId: '9',
    rows: 1,
    coveredTo: T0 - 1000,
    batchId: 'r1/binance:btcusdt:trade/9',
  });
  const history = new MemoryHistorySource();
  const run = {
    warehouse: new MemoryWarehouse(),
    gapQueries,
    ledger: new MemoryGapLedger(),
    leases: new MemoryLeaseStore(clock),
    history,
    checkpoints,
    clock,
    logger,
    options: { ...DEFAULT_GAPFILL_OPTIONS, streams: [STREAM], retryBaseMs: 1000, retryMaxMs: 1000 },
  };
  history.failures.push(
    new HistoryError('history answered 503', 'unavailable', 503),
    new HistoryError('history answered 400', 'out_of_range', 400),
  );
  await runGapfill({ ...run, holder: 'run-1' });
  clock.advance(10 * MINUTE);
  history.failures.push(new HistoryError('history answered 401', 'unauthorized', 401));
  await runGapfill({ ...run, holder: 'run-2' });

  const broken: GapQueries = {
    coverageWindows: async () => {
      throw new Error('BigQuery unavailable');
    },
    tradeIdJumps: async () => new Map(),
  };
  const handle = createGapfillHandler({
    run: { ...run, gapQueries: broken },
    projectId: 'proj-1',
    instance: 'i1',
  });
  await handle({ method: 'POST', get: () => undefined }, response);
}
