// `npm start` command line: the flags, their defaults and checks, and the help text.
import { parseArgs } from 'node:util';
import { errorMessage } from '../../functions/core/shared/errors.ts';
import { defaultMix, mixFromFlags, type ExchangeStreams } from '../local/stream-mix.ts';

/** The help text; the default mix is listed as it is derived (scripts/local/stream-mix.ts). */
export function helpText(): string {
  const mix = defaultMix()
    .map((m) => `${m.exchange} ${m.symbols.join(',')}: ${m.types.join(', ')}`)
    .join('\n                   ');
  return `usage: npm start -- [--duration S] [--exchanges a,b] [--types t1,t2] [--symbols a,b] [--rate N]
                    [--seed N] [--gapfill-period S] [--relays N] [--json] [--live]

  --duration S   run S seconds, then stop, verify every exchange and data type against the ground truth
                 and print a summary (default: run until Ctrl-C)
  --exchanges L  comma-separated exchanges to record (default: every exchange the simulator plays)
  --types L      comma-separated data types to record (default: every type each exchange offers)
                 Default mix: ${mix}
  --symbols L    comma-separated symbols; each goes to every selected exchange whose symbol shape fits
                 it (btcusdt: Binance, btc-usd: Coinbase); an exchange none fits keeps its default
  --rate N       ticks per second per symbol and data type at the simulated exchanges (default
                 ${DEFAULT_RATE}, max 1000)
  --seed N       ground-truth seed (default 1)
  --gapfill-period S
                 the local Cloud Scheduler job runs the gap-filler every S seconds (default 60, its cron)
  --relays N     relay instances (default ${DEFAULT_RELAYS}, max ${MAX_RELAYS}): from 2 on a fleet sharing the
                 streams by shard (${LOCAL_MIN_SHARDS} per exchange), a primary and a standby each; the status
                 line shows members, shards per member and primaries (also: npm run ops -- fleet).
                 1: one relay holding every stream, no fleet (lighter on a small machine)
  --json         status lines and the summary as JSON
  --live         connect the relay to the real exchanges' websockets and backfill from the real Tardis.dev
                 API (TARDIS_API_KEY from the environment, optional) instead of the simulator: needs the
                 network; there is no ground truth, so the summary reports what was stored and the gaps
  --keep         keep the DuckDB warehouse file under .local/ (default: kept; this flag is a no-op)`;
}

/** A fleet of three: a lost member leaves a primary or a standby for every shard it held. */
export const DEFAULT_RELAYS = 3;
const MAX_RELAYS = 16;
/** Shards per exchange locally: the default mix has few streams per exchange, one shard would leave members idle. */
export const LOCAL_MIN_SHARDS = 2;

/** Ticks per second per symbol and type: modest, as the default mix has a dozen streams or more. */
export const DEFAULT_RATE = 20;

export interface StartArgs {
  /** Seconds to run before verifying; undefined: until Ctrl-C. */
  readonly duration: number | undefined;
  readonly rate: number;
  readonly seed: number;
  readonly gapfillPeriodS: number;
  /** What the run records, by exchange. */
  readonly mix: readonly ExchangeStreams[];
  readonly json: boolean;
  readonly live: boolean;
  /** Relay instances; 1 runs the single relay without a fleet. */
  readonly relays: number;
}

/** Exits 2 with the help text on a bad value; prints the help and exits 0 on --help. */
export function parseStartArgs(args: readonly string[] = process.argv.slice(2)): StartArgs {
  const { values } = parseArgs({
    args: [...args],
    options: {
      duration: { type: 'string' },
      exchanges: { type: 'string' },
      types: { type: 'string' },
      rate: { type: 'string', default: String(DEFAULT_RATE) },
      symbols: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'gapfill-period': { type: 'string', default: '60' },
      relays: { type: 'string', default: String(DEFAULT_RELAYS) },
      json: { type: 'boolean', default: false },
      live: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(helpText());
    process.exit(0);
  }
  let mix: ExchangeStreams[];
  try {
    const { exchanges, types, symbols } = values;
    mix = mixFromFlags(defaultMix(values.live), { exchanges, types, symbols });
  } catch (error) {
    usageError(errorMessage(error));
  }
  return {
    duration: positive('duration', values.duration, 86_400),
    rate: positive('rate', values.rate, 1000)!,
    seed: positive('seed', values.seed, 2 ** 31)!,
    gapfillPeriodS: positive('gapfill-period', values['gapfill-period'], 86_400)!,
    mix,
    json: values.json,
    live: values.live,
    relays: relayCount(values.relays),
  };
}

function usageError(message: string): never {
  console.error(`${message}\n\n${helpText()}`);
  process.exit(2);
}

function relayCount(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_RELAYS)
    usageError(`--relays must be a whole number from 1 to ${MAX_RELAYS}, got ${JSON.stringify(raw)}`);
  return n;
}

function positive(name: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    usageError(`--${name} must be a number in (0, ${max}], got ${JSON.stringify(raw)}`);
  }
  return n;
}

export type Say = (text: string, data: Record<string, unknown>) => void;

/** One output line: JSON with --json, else `text key=value ...`. */
export function sayer(json: boolean): Say {
  return (text, data) =>
    console.log(
      json ? JSON.stringify({ message: text, ...data }) : `${text} ${formatFields(data)}`.trimEnd(),
    );
}

function formatFields(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
}
