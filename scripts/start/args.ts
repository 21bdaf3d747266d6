// `npm start` command line: the flags, their defaults and checks, and the help text.
import { parseArgs } from 'node:util';

export const HELP = `usage: npm start -- [--duration S] [--rate N] [--symbols a,b,c] [--seed N] [--gapfill-period S] [--json] [--live]

  --duration S   run S seconds, then stop, verify against the ground truth and print a summary
                 (default: run until Ctrl-C)
  --rate N       trades per second per symbol at the simulated exchange (default 50, max 1000)
  --symbols L    comma-separated Binance symbols (default btcusdt,ethusdt,solusdt)
  --seed N       ground-truth seed (default 1)
  --gapfill-period S
                 the local Cloud Scheduler job runs the gap-filler every S seconds (default 60, its cron)
  --json         status lines and the summary as JSON
  --live         connect the relay to the real Binance websocket and backfill from the real Tardis.dev API
                 (TARDIS_API_KEY from the environment, optional) instead of the simulator: needs the
                 network; there is no ground truth, so the summary reports what was stored and the gaps
  --keep         keep the DuckDB warehouse file under .local/ (default: kept; this flag is a no-op)`;

export interface StartArgs {
  /** Seconds to run before verifying; undefined: until Ctrl-C. */
  readonly duration: number | undefined;
  readonly rate: number;
  readonly seed: number;
  readonly gapfillPeriodS: number;
  readonly symbols: readonly string[];
  readonly json: boolean;
  readonly live: boolean;
}

/** Exits 2 with the help text on a bad value; prints the help and exits 0 on --help. */
export function parseStartArgs(args: readonly string[] = process.argv.slice(2)): StartArgs {
  const { values } = parseArgs({
    args: [...args],
    options: {
      duration: { type: 'string' },
      rate: { type: 'string', default: '50' },
      symbols: { type: 'string', default: 'btcusdt,ethusdt,solusdt' },
      seed: { type: 'string', default: '1' },
      'gapfill-period': { type: 'string', default: '60' },
      json: { type: 'boolean', default: false },
      live: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  return {
    duration: positive('duration', values.duration, 86_400),
    rate: positive('rate', values.rate, 1000)!,
    seed: positive('seed', values.seed, 2 ** 31)!,
    gapfillPeriodS: positive('gapfill-period', values['gapfill-period'], 86_400)!,
    symbols: values.symbols
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
    json: values.json,
    live: values.live,
  };
}

function positive(name: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    console.error(`--${name} must be a number in (0, ${max}], got ${JSON.stringify(raw)}\n\n${HELP}`);
    process.exit(2);
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
