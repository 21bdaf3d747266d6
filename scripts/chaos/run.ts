// One chaos run: a local stack with the gap-filler, a warmup, the scenario's faults at seeded times,
// recovery, a frozen ground truth, the gap-filler run until settled, and the comparison of the dedup
// views with the simulator's ground truth. Used by `npm run chaos` and test/system/chaos.test.ts.
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { streamId } from '../../functions/core/model/streams.ts';
import { startStack, type Stack } from '../local/stack.ts';
import { settleGapfill, waitForDrain } from '../local/settle.ts';
import { localBatchWaitMs, mixStreams, type ExchangeStreams } from '../local/stream-mix.ts';
import { compareMix, sentSoFar, type ExpectedStream } from '../local/verify-mix.ts';
import { waitUntil } from '../local/verify.ts';
import { injectFault, type ChaosContext, type FaultRecord } from './faults.ts';
import { freezesEmulators, planScenario, usesFleet, type Plan, type ScenarioName } from './plan.ts';
import { waitFleetWhole } from './fleet-faults.ts';
import { PoisonSource } from './poison.ts';
import { firstLiveSince } from './measure.ts';
import { measureRun, type ChaosResult } from './result.ts';
import { RssSampler } from './rss.ts';

export type { ChaosResult, FaultSummary } from './result.ts';

export interface ChaosOptions {
  readonly scenario: ScenarioName;
  readonly seed: number;
  /** Length of the fault phase (faults that need longer extend it). */
  readonly durationMs: number;
  /** How long an emulator outage lasts. */
  readonly outageMs?: number;
  /** Ticks per second per symbol and data type. */
  readonly ratePerSymbol?: number;
  /**
   * What the run records (scripts/local/stream-mix.ts; `defaultMix()` is every exchange and type).
   * Default: Binance trades of btcusdt, ethusdt and solusdt.
   */
  readonly streams?: readonly ExchangeStreams[];
  /** A running emulator pair to use; ignored (a private pair is started) when the plan freezes one. */
  readonly emulators?: { readonly pubsub: string; readonly firestore: string };
  readonly warmupMs?: number;
  /** Steady traffic kept after recovery, before the ground truth is frozen. */
  readonly tailMs?: number;
  /** Bound on waiting for data to flow again after the last fault. */
  readonly recoveryTimeoutMs?: number;
  /** Bound on waiting for batches in flight to land after the ground truth is frozen. */
  readonly drainTimeoutMs?: number;
  /** Bound on running the gap-filler until nothing is open or missing. */
  readonly settleTimeoutMs?: number;
  readonly workDir?: string;
  /**
   * The fleet of scenarios that need one (`fleet`, `all`, each fleet fault): members at start (default 3),
   * RELAY_FLEET_LEASE_MS and RELAY_FLEET_RENEW_MS (default: the relay's), how long control-plane-loss lasts.
   */
  readonly fleet?: {
    readonly relays?: number;
    readonly leaseMs?: number;
    readonly renewMs?: number;
    readonly controlPlaneLossMs?: number;
  };
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

const DEFAULT_STREAMS: readonly ExchangeStreams[] = [
  { exchange: 'binance', symbols: ['btcusdt', 'ethusdt', 'solusdt'], types: ['trade'] },
];

export async function runScenario(options: ChaosOptions): Promise<ChaosResult> {
  const startedAt = Date.now();
  const log = options.log ?? (() => undefined);
  const streams = options.streams ?? DEFAULT_STREAMS;
  // Poison claims Binance trade streams (any symbol of the mix's Binance, else btcusdt).
  const poisonSymbols = streams.find((m) => m.exchange === 'binance')?.symbols ?? ['btcusdt'];
  const leaseMs = options.fleet?.leaseMs ?? 5_000;
  const plan = planScenario(options.scenario, options.seed, {
    durationMs: options.durationMs,
    outageMs: options.outageMs ?? 15_000,
    leaseMs,
    controlPlaneLossMs: options.fleet?.controlPlaneLossMs ?? 20_000,
  });
  const fleet = usesFleet(plan);
  const privateEmulators = freezesEmulators(plan) || options.emulators === undefined;
  log('plan', {
    scenario: plan.scenario,
    seed: plan.seed,
    phaseMs: plan.phaseMs,
    faults: plan.faults.map((f) => `${f.spec.kind}@${f.atMs}`),
    emulators: privateEmulators ? 'private' : 'shared',
    relays: fleet ? (options.fleet?.relays ?? 3) : 1,
  });

  const stack = await startStack({
    suffix: `chaos_${options.scenario.replace(/-/g, '_')}_${options.seed}_${startedAt.toString(36)}`,
    seed: options.seed,
    ratePerSymbol: options.ratePerSymbol ?? 50,
    streams,
    relayEnv: { BATCH_MAX_WAIT_MS: String(localBatchWaitMs(streams)) },
    ...(options.workDir ? { workDir: options.workDir } : {}),
    ...(privateEmulators ? {} : { emulators: options.emulators! }),
    gapfill: { settleMs: 2000, attemptTimeoutMs: 20_000, retryBaseMs: 500 },
    ...(fleet
      ? {
          relays: options.fleet?.relays ?? 3,
          fleet: {
            leaseMs,
            ...(options.fleet?.renewMs ? { renewMs: options.fleet.renewMs } : {}),
            // Two shards per exchange: a few streams still spread over the members.
            minShards: 2,
            firestoreProxy: plan.faults.some((f) => f.spec.kind === 'control-plane-loss'),
          },
        }
      : {}),
  });
  const rss = new RssSampler();
  for (const relay of stack.relays) rss.track(relay);
  rss.start();
  const ctx: ChaosContext = {
    stack,
    relay: stack.relay,
    extraRelays: [],
    rss,
    seed: options.seed,
    poison: new PoisonSource(options.seed, poisonSymbols),
    poisonIds: [],
    log,
  };
  try {
    return await drive(stack, ctx, plan, options, startedAt);
  } finally {
    rss.stop();
    stack.thawEmulator('pubsub');
    stack.thawEmulator('firestore');
    stack.bigquery.clearFaults();
    for (const relay of ctx.extraRelays) await relay.terminate().catch(() => undefined);
    await stack.stop();
  }
}

async function drive(
  stack: Stack,
  ctx: ChaosContext,
  plan: Plan,
  options: ChaosOptions,
  startedAt: number,
): Promise<ChaosResult> {
  const log = ctx.log;
  const loadAtStart = Math.round(loadavg()[0]! * 10) / 10;
  const runFrom = Date.now();
  // Seconds spent in each stage, to keep the run short (the test suite runs every scenario).
  const timings: Record<string, number> = { start: (runFrom - startedAt) / 1000 };
  let mark = runFrom;
  const lap = (stage: string) => {
    const now = Date.now();
    timings[stage] = (now - mark) / 1000;
    mark = now;
  };
  // Warm up: every stream committed live data, then a little steady traffic.
  // A bound, not a wait: a dozen streams on a loaded 2-core machine can take a minute to show up.
  const flowing = await flowingSince(stack, runFrom, 120_000);
  if (!flowing)
    throw new Error(`no live data committed within 120 s of start; relay log: ${stack.relay.tail()}`);
  if (stack.fleet) {
    const wholeMs = await waitFleetWhole(stack, 60_000);
    if (wholeMs === null) throw new Error('the fleet did not get a live primary and standby for every shard');
  }
  await sleep(options.warmupMs ?? 2_000);
  lap('warmup');

  const phaseStart = Date.now();
  log('fault phase', { phaseMs: plan.phaseMs });
  const records: FaultRecord[] = [];
  // On a fleet, a fault that overran its plan still leaves the next one a quiet spell longer than a relay
  // holds a tick unpublished (batch wait + a second to publish): the ticks the next fault's kill loses
  // then lie after this fault's end, so its window can give them to the next (fleet-measure.ts).
  const quietMs = stack.fleet ? localBatchWaitMs(stack.streams) + 1_000 : 0;
  for (const fault of plan.faults) {
    const lastEnd = records.at(-1)?.end ?? Number.NEGATIVE_INFINITY;
    const wait = Math.max(phaseStart + fault.atMs, lastEnd + quietMs) - Date.now();
    if (wait > 0) await sleep(wait);
    log('inject', { kind: fault.spec.kind, atMs: Date.now() - phaseStart });
    const record = await injectFault(ctx, fault.spec);
    records.push(record);
    log('fault over', { kind: record.kind, lengthMs: record.end - record.start, ...record.detail });
  }
  const rest = phaseStart + plan.phaseMs - Date.now();
  if (rest > 0) await sleep(rest);
  lap('faults');

  // Recovery: live data committed again on every stream after the last fault, then steady traffic.
  const lastEnd = Math.max(phaseStart, ...records.map((r) => r.end));
  const flowingAgain = await flowingSince(stack, lastEnd, options.recoveryTimeoutMs ?? 60_000);
  log('recovered', { flowingAgain, sinceLastFaultMs: Date.now() - lastEnd });
  await sleep(options.tailMs ?? 2_000);
  lap('recovery');

  const expected = await freezeGroundTruth(stack);
  const compare = () => compareMix(stack, expected);

  // Let everything in flight land before the gap-filler judges: a batch still queued in Pub/Sub is not
  // a hole, and backfilling it would overstate the RPO.
  const drained = await waitForDrain(stack, compare, options.drainTimeoutMs ?? 60_000);
  log('drained', drained);
  await sleep(2_500); // the gap-filler judges only time older than its settle window (2 s)
  lap('drain');

  const settle = await settleGapfill(stack, compare, options.settleTimeoutMs ?? 120_000);
  log('gap-filler settled', { settled: settle.settled, runs: settle.runs, missing: settle.result.missing });
  lap('gapfill');

  return measureRun(stack, ctx, {
    plan,
    startedAt,
    runFrom,
    phaseStart,
    loadAtStart,
    records,
    expected,
    settle,
    timings,
    lap,
  });
}

/** Freezes the ground truth (no more frames, sockets stay open) and returns what each stream was sent. */
async function freezeGroundTruth(stack: Stack): Promise<ExpectedStream[]> {
  stack.simulator.stall(24 * 3600_000, 'drop');
  // Frames whose write completes just after the stall are still recorded: read once writes have settled.
  await sleep(500);
  const expected = sentSoFar(stack);
  const silent = expected.filter((s) => s.range === null).map(streamId);
  if (silent.length > 0) throw new Error(`the simulator sent nothing on ${silent.join(', ')}`);
  return expected;
}

/** Waits until every stream of the mix has a live row committed with exchange time at or after `since`. */
async function flowingSince(stack: Stack, since: number, timeoutMs: number): Promise<boolean> {
  const streams = mixStreams(stack.streams).map(streamId);
  return waitUntil(
    async () => {
      const first = await firstLiveSince(stack, since);
      return streams.every((s) => first.has(s));
    },
    timeoutMs,
    1_000,
  );
}
