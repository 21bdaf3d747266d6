// `npm run chaos -- --scenario NAME [--seed N] [--duration S] [--json]`: runs one chaos scenario on a
// private local cloud and prints, as the last line, one JSON object with what was lost, duplicated and
// how fast the pipeline recovered. Exits 1 when anything is missing or duplicated in the dedup views.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isScenario, SCENARIOS } from './chaos/plan.ts';
import { runScenario } from './chaos/run.ts';
import { REPO_ROOT } from './local/service.ts';
import { defaultMix, mixFromFlags, streamsConfigOf, type ExchangeStreams } from './local/stream-mix.ts';
import { errorMessage } from '../functions/core/shared/errors.ts';

const HELP = `usage: npm run chaos -- --scenario NAME [--seed N] [--duration S] [--exchanges a,b] [--types t1,t2] [--json]

  --scenario NAME  ${SCENARIOS.join(' | ')}
  --seed N         seeds the fault schedule and the simulated market (default 1)
  --duration S     length of the fault phase in seconds (default 30; 300 for all, so that every
                   kind, the fleet's too, runs once); a fault that
                   needs longer (a 15 s outage) extends it
  --outage S       how long firestore-outage / pubsub-outage freeze the emulator (default 15)
  --control-plane-loss S
                   how long control-plane-loss cuts the relays off Firestore (default 20)
  --relays N       members of the fleet the fleet scenarios start with (default 3)
  --lease-ms N     the fleet's RELAY_FLEET_LEASE_MS (default 5000, the relay's)
  --renew-ms N     the fleet's RELAY_FLEET_RENEW_MS (default: the relay's)

Fleet scenarios (a fleet of --relays relays, two shards per exchange): primary-kill, primary-pause,
fleet-redeploy, scale-out, scale-in, control-plane-loss, replicas-lost; fleet runs them all in sequence
on one fleet, and all adds them to the other faults (on a fleet). Per fault the result reports
rto_ms, rpo_live_span_ms and backfilled; the run fails when one but replicas-lost leaves a live hole of
1 s or more or anything backfilled, or when replicas-lost's hole is not recorded and backfilled.
  --exchanges L    comma-separated exchanges (default: every exchange the simulator plays)
  --types L        comma-separated data types (default: every type each exchange offers)
  --symbols L      comma-separated symbols, each to the exchanges whose shape fits it (default: one
                   per exchange); --exchanges binance --types trade --symbols btcusdt,ethusdt,solusdt
                   is the Binance-only run of docs/RELIABILITY.md's older figures
  --rate N         ticks per second per symbol and data type (default 50)
  --json           progress lines as JSON too

The last line is always one JSON object: {scenario, seed, sent, stored_unique, missing,
duplicates_in_views, raw_duplicates, rto_ms, rpo_ms, backfilled, max_rss_mb, ...}. See docs/RELIABILITY.md.`;

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    seed: { type: 'string', default: '1' },
    duration: { type: 'string' },
    outage: { type: 'string', default: '15' },
    'control-plane-loss': { type: 'string', default: '20' },
    relays: { type: 'string', default: '3' },
    'lease-ms': { type: 'string', default: '5000' },
    'renew-ms': { type: 'string' },
    rate: { type: 'string', default: '50' },
    exchanges: { type: 'string' },
    types: { type: 'string' },
    symbols: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  console.error(`${message}\n\n${HELP}`);
  process.exit(2);
}

function number(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    fail(`--${name} must be a number in [${min}, ${max}], got ${raw}`);
  return n;
}

if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const scenario = values.scenario ?? fail('--scenario is required');
if (!isScenario(scenario)) fail(`unknown scenario ${JSON.stringify(scenario)}`);
const seed = Math.floor(number('seed', values.seed, 1, 2 ** 31));
const duration = number('duration', values.duration ?? (scenario === 'all' ? '300' : '30'), 5, 3600);
const outage = number('outage', values.outage, 1, 600);
const fleet = {
  relays: Math.floor(number('relays', values.relays, 2, 16)),
  leaseMs: Math.floor(number('lease-ms', values['lease-ms'], 500, 120_000)),
  controlPlaneLossMs: number('control-plane-loss', values['control-plane-loss'], 1, 600) * 1000,
  ...(values['renew-ms'] ? { renewMs: Math.floor(number('renew-ms', values['renew-ms'], 100, 60_000)) } : {}),
};
const rate = number('rate', values.rate, 1, 1000);
let streams: ExchangeStreams[];
try {
  const { exchanges, types, symbols } = values;
  streams = mixFromFlags(defaultMix(), { exchanges, types, symbols });
} catch (error) {
  fail(errorMessage(error));
}
const json = values.json;

const say = (message: string, fields: Record<string, unknown> = {}): void => {
  const line = json
    ? JSON.stringify({ message, ...fields })
    : `${message} ${Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(' ')}`.trimEnd();
  // Progress goes to stderr so stdout's last line is the result, whatever the flags.
  process.stderr.write(`${line}\n`);
};

const workDir = join(REPO_ROOT, '.local', `chaos_${scenario}_${seed}_${Date.now().toString(36)}`);
mkdirSync(workDir, { recursive: true });
say('chaos run', { scenario, seed, durationS: duration, streams: streamsConfigOf(streams), workDir });

let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  say('interrupted: stopping the stack (again to force)', { signal });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  const result = await runScenario({
    scenario,
    seed,
    durationMs: duration * 1000,
    outageMs: outage * 1000,
    fleet,
    ratePerSymbol: rate,
    streams,
    workDir,
    log: say,
  });
  if (!json) {
    for (const fault of result.faults) say('fault', { ...fault });
  }
  say(result.ok ? 'PASS' : 'FAIL', {
    missing: result.missing,
    duplicates: result.duplicates_in_views,
    rto_ms: result.rto_ms,
    rpo_ms: result.rpo_ms,
  });
  console.log(JSON.stringify(result));
  process.exitCode = result.ok ? 0 : 1;
} catch (error) {
  say('chaos run failed', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  console.log(
    JSON.stringify({
      scenario,
      seed,
      error: errorMessage(error),
      ok: false,
    }),
  );
  process.exitCode = 1;
}
