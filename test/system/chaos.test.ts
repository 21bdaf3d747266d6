// Short versions of every chaos scenario (scripts/chaos): each runs the whole pipeline with the
// gap-filler, injects its faults, and compares the dedup views with the simulator's ground truth.
// Serial, to keep a 2-core machine sane. Scenarios that freeze an emulator start a private pair.
// relay-kill and exchange-flaps run over three or four exchanges with every data type they offer (together
// every exchange and type of the registries); the others on Binance trades, which their faults (writer, warehouse, emulators) do not tell apart.
import test, { type ExecutionContext } from 'ava';
import { FLEET_FAULT_KINDS } from '../../scripts/chaos/fleet-plan.ts';
import { FLEET_ORDER, freezesEmulators, planScenario, type ScenarioName } from '../../scripts/chaos/plan.ts';
import { runScenario, type ChaosOptions, type ChaosResult } from '../../scripts/chaos/run.ts';
import { defaultMix, narrowMix } from '../../scripts/local/stream-mix.ts';
import { requireEmulators } from '../support/env.ts';

const SHORT = { durationMs: 8_000, outageMs: 8_000, warmupMs: 1_000, tailMs: 1_000 };
/**
 * Exchanges with every type each offers, at a modest rate: two derivatives venues and a spot one per
 * scenario (13 streams; the flaps add Deribit's three simulated types), and the two scenarios together
 * cover every simulated exchange. OKX, whose re-sent latest liquidation is the subtle case of a
 * resubscription, is in both. `npm run chaos` runs the whole mix.
 */
function mixOf(exchanges: readonly string[]): Partial<ChaosOptions> {
  return { streams: narrowMix(defaultMix(), { exchanges }), ratePerSymbol: 20 };
}
const RELAY_KILL_MIX = mixOf(['binance', 'binance-futures', 'okex-swap']);
const FLAPS_MIX = mixOf(['coinbase', 'bybit', 'okex-swap', 'deribit']);

async function chaos(
  t: ExecutionContext,
  scenario: ScenarioName,
  seed: number,
  durationMs = SHORT.durationMs,
  extra: Partial<ChaosOptions> = {},
): Promise<ChaosResult> {
  // A mix's gaps (every stream of every exchange) take the gap-filler longer on a loaded machine.
  t.timeout(extra.streams === undefined && extra.fleet === undefined ? 240_000 : 420_000);
  const emulators = requireEmulators();
  return runScenario({
    scenario,
    seed,
    ...SHORT,
    durationMs,
    emulators: { pubsub: emulators.pubsub, firestore: emulators.firestore },
    settleTimeoutMs: 60_000,
    ...extra,
  });
}

function check(t: ExecutionContext, result: ChaosResult): void {
  const { faults, workDir, ...headline } = result;
  t.log(JSON.stringify(headline));
  t.log(JSON.stringify(faults));
  t.log(`logs: ${workDir}`);
  t.true(result.sent > 0, 'the simulator sent ticks');
  t.is(result.missing, 0, 'nothing is missing from the dedup views');
  t.is(result.duplicates_in_views, 0, 'no row id twice in the dedup views');
  for (const c of result.per_stream_type) {
    t.is(c.missing, 0, `nothing missing from ${c.exchange} ${c.type}`);
    t.is(c.duplicates, 0, `no duplicate in ${c.exchange} ${c.type}`);
    t.is(c.stored, c.sent, `${c.exchange} ${c.type}: every tick sent is stored`);
  }
  t.is(result.unexpected_live, 0, 'no live row outside the run');
  t.true(result.settled, 'the gap-filler settled');
  t.not(result.rto_ms, null, 'every stream committed live data again after every fault');
  t.true((result.rto_ms ?? Infinity) < 30_000, `RTO ${result.rto_ms} ms is under 30 s`);
}

test('the plan is a function of the seed, and outages ask for private emulators', (t) => {
  const options = { durationMs: 60_000, outageMs: 15_000 };
  t.deepEqual(planScenario('all', 7, options), planScenario('all', 7, options));
  t.notDeepEqual(planScenario('all', 7, options), planScenario('all', 8, options));
  const all = planScenario('all', 7, options);
  t.true(new Set(all.faults.map((f) => f.spec.kind)).size >= 3);
  t.true(freezesEmulators(planScenario('pubsub-outage', 1, options)));
  t.false(freezesEmulators(planScenario('relay-kill', 1, options)));
});

test('relay-kill and exchange-flaps together run every simulated exchange with every type it offers', (t) => {
  const ran = [RELAY_KILL_MIX, FLAPS_MIX].flatMap((m) => m.streams!);
  for (const whole of defaultMix()) {
    const runs = ran.filter((m) => m.exchange === whole.exchange);
    t.true(runs.length > 0, `${whole.exchange} is in a mixed scenario`);
    for (const run of runs) t.deepEqual(run.types, whole.types, `${whole.exchange} runs every type`);
  }
});

/** A scenario over a mix: checked as any, and every exchange and type of the mix has its entry. */
async function chaosMixed(
  t: ExecutionContext,
  scenario: ScenarioName,
  seed: number,
  mix: Partial<ChaosOptions>,
): Promise<ChaosResult> {
  const result = await chaos(t, scenario, seed, SHORT.durationMs, mix);
  check(t, result);
  const want = mix.streams!.flatMap((m) => m.types.map((type) => `${m.exchange}:${type}`)).sort();
  t.deepEqual(result.per_stream_type.map((c) => `${c.exchange}:${c.type}`).sort(), want);
  return result;
}

test.serial(
  'relay-kill: a relay killed with SIGKILL and restarted loses nothing on any exchange or type after the gap-filler',
  async (t) => {
    const result = await chaosMixed(t, 'relay-kill', 11, RELAY_KILL_MIX);
    t.true(result.gaps > 0, 'the kill left a coverage hole');
    t.true(result.backfilled > 0, 'the hole was backfilled');
  },
);

test.serial('relay-redeploy: a new instance before the old one drains leaves no hole', async (t) => {
  const result = await chaos(t, 'relay-redeploy', 12);
  check(t, result);
  t.is(result.rpo_ms, 0, 'overlapping instances leave no coverage hole');
});

test.serial('writer-kill: a writer killed mid-flight loses nothing (Pub/Sub redelivers)', async (t) => {
  check(t, await chaos(t, 'writer-kill', 13));
});

test.serial('bigquery-brownout: 5xx and hung inserts on 30% of requests lose nothing', async (t) => {
  check(t, await chaos(t, 'bigquery-brownout', 14));
});

test.serial('firestore-outage: a frozen Firestore does not stop recording', async (t) => {
  check(t, await chaos(t, 'firestore-outage', 15));
});

test.serial('pubsub-outage: a frozen Pub/Sub loses nothing after the gap-filler', async (t) => {
  check(t, await chaos(t, 'pubsub-outage', 16));
});

test.serial(
  'exchange-flaps: a disconnect storm on every exchange loses nothing of any type after the gap-filler',
  async (t) => {
    const result = await chaosMixed(t, 'exchange-flaps', 17, FLAPS_MIX);
    t.true(result.gaps > 0, 'the drops left coverage holes');
  },
);

test.serial(
  'poison-messages: malformed messages are quarantined and real traffic is untouched',
  async (t) => {
    const result = await chaos(t, 'poison-messages', 18);
    check(t, result);
    t.truthy(result.poison);
    t.is(result.poison!.quarantined, result.poison!.published, 'every poison message is in quarantine');
    t.is(result.poison!.tickRows, 0, 'no poison tick reached the trades table');
  },
);

/**
 * The fleet of the short runs: two relays (two shards of Binance trades), the short lease fleet-takeover
 * uses and a 5 s control-plane loss (past the lease). `all` draws from every fault, the fleet's too.
 */
const FLEET_SHORT: Partial<ChaosOptions> = {
  ratePerSymbol: 20,
  fleet: { relays: 2, leaseMs: 2_000, renewMs: 400, controlPlaneLossMs: 5_000 },
};

/** The fleet faults that ran passed their checks (scripts/chaos/fleet-measure.ts), asserted one by one. */
function checkFleetFaults(t: ExecutionContext, result: ChaosResult): void {
  t.deepEqual(result.fleet_failures, [], 'every fleet check passed');
  for (const fault of result.faults) {
    const kind = fault.kind;
    t.true(fault.rto_ms === null || typeof fault.rto_ms === 'number', `${kind}: rto_ms reported`);
    if (!(FLEET_FAULT_KINDS as readonly string[]).includes(kind)) continue;
    t.true(typeof fault.rpo_live_span_ms === 'number', `${kind}: rpo_live_span_ms reported`);
    if (kind === 'replicas-lost') {
      if (fault.rpo_live_span_ms! > 0)
        t.true(fault.backfilled! > 0, 'the hole every replica left was backfilled');
      continue;
    }
    t.true(fault.rpo_live_span_ms! < 1_000, `${kind}: live hole ${fault.rpo_live_span_ms} ms < 1 s`);
    t.is(fault.backfilled, 0, `${kind}: nothing backfilled from history`);
    if (kind === 'primary-kill' || kind === 'primary-pause')
      t.true(typeof fault.detail.takeoverMs === 'number', `${kind}: a standby took the shards over`);
    if (kind === 'primary-pause')
      t.true(Number(fault.detail.stepDowns) > 0, 'the paused primary stepped down');
    if (kind === 'scale-out' || kind === 'scale-in')
      t.true(typeof fault.detail.movedShards === 'number', `${kind}: moved shards reported`);
  }
}

test.serial(
  'fleet: every fleet fault in turn on one fleet loses nothing, and each passes its fleet checks',
  async (t) => {
    const result = await chaos(t, 'fleet', 42, 12_000, FLEET_SHORT);
    check(t, result);
    t.deepEqual(
      result.faults.map((f) => f.kind),
      [...FLEET_ORDER],
      'every fleet fault ran, in order',
    );
    checkFleetFaults(t, result);
  },
);

test.serial(
  'all: a seeded mix of every fault, on a fleet, loses nothing and the fleet faults leave no live hole',
  async (t) => {
    const result = await chaos(t, 'all', 19, 12_000, FLEET_SHORT);
    check(t, result);
    checkFleetFaults(t, result);
  },
);
