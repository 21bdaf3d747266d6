// The ops CLI's commands, flags and exit codes (scripts/ops.ts runs it).
// Arguments and configuration are checked before a command's module (and its cloud clients, slow to
// load) is imported, so a mistake is reported at once.
import { parseArgs } from 'node:util';
import { ConfigError } from '../../functions/core/shared/config.ts';
import type { GapState } from '../../functions/core/gapfill/gaps.ts';
import { parseStreamId, type StreamKey } from '../../functions/core/model/streams.ts';
import { readGapfillConfig } from '../../functions/gapfill/config.ts';
import {
  describeEnv,
  GAP_STATES,
  readFleetEnv,
  readLedgerEnv,
  readSchedulerEnv,
  readStatusEnv,
} from './env.ts';
import { knownStream, OpsError, UsageError, type Io } from './io.ts';
import { errorMessage } from '../../functions/core/shared/errors.ts';

const SCHEDULER_ACTIONS = ['run', 'pause', 'resume', 'status'] as const;

export const EXIT = { ok: 0, failed: 1, usage: 2, config: 78 } as const;

const COMMANDS = `commands:
  gaps [--state S,S] [--stream E:S:T] [--json]
        list the gap ledger; states: ${GAP_STATES.join(', ')}
  checkpoints [--json]
        list the per-stream checkpoints and how far behind now each one is
  backfill --stream E:S:T --from ISO --to ISO [--json]
        fill [from, to) of one stream from Tardis now, as a manual gap in the ledger
  scheduler run|pause|resume|status [--json]
        the gap-filler's Cloud Scheduler job (SCHEDULER_JOB)
  serve [--port N] [--host H] [--hours H] [--refresh S]
        a status page of the deployment: coverage timeline, freshness, gaps, quarantine
  fleet [--json]
        the relay fleet: members, liveness, shards, primary and standbys, epochs, publishedTo lag`;

const SERVE_DEFAULTS = { port: 8080, host: '127.0.0.1', hours: 6, refreshS: 10 } as const;

export const HELP = `usage: npm run ops -- <command> [flags]

Operates a tickstream deployment (or the local stack) with the deployables' own configuration.

${COMMANDS}

  E:S:T is a stream id, exchange:symbol:type, e.g. binance:btcusdt:trade.
  --json prints one JSON value on stdout; progress and errors go to stderr.

environment:
${describeEnv()}

exit codes: 0 done, 1 the operation failed, 2 bad arguments, 78 bad or missing configuration`;

const COMMAND_HELP: Record<string, string> = {
  fleet: `usage: npm run ops -- fleet [--json]

The relay fleet from Firestore (MEMBERS_COLLECTION, SHARDS_COLLECTION). Members: pool, live (renewed within
RELAY_FLEET_LEASE_MS by Firestore's own clock, and not leaving), shards held as primary, standby or
yielding. Shards (those of RELAY_STREAMS when set, with RELAY_FLEET_MIN_SHARDS, and any with a record):
the primary and its epoch (the fencing token), whether that primary is live and reports the shard at
that epoch, the live standbys, how far the shard is published and the lag behind now (a relay's clock
against Firestore's). Shards without a live primary or standby are listed under problems.
  --json          the same as one JSON object`,
  gaps: `usage: npm run ops -- gaps [--state open,failed] [--stream exchange:symbol:type] [--json]

Lists the gaps in the ledger (GAPS_COLLECTION), oldest first. FILLABLE is when the gap could first be
filled (its end + the longer of GAPFILL_SETTLE_MS and GAPFILL_AVAILABILITY_DELAY_MS); FILLED AFTER is how
long after that it was filled (the fill-latency target: within 5 minutes).
  --state S,S     only these states (${GAP_STATES.join(', ')})
  --stream ID     only this stream (checked against RELAY_STREAMS when it is set)
  --json          a JSON array instead of a table`,
  checkpoints: `usage: npm run ops -- checkpoints [--json]

Lists the checkpoints (CHECKPOINTS_COLLECTION) with their age: now minus the end of the newest committed
coverage. Streams in RELAY_STREAMS without a checkpoint are listed as never recorded.
  --json          a JSON array instead of a table`,
  backfill: `usage: npm run ops -- backfill --stream exchange:symbol:type --from ISO --to ISO [--json]

Records [from, to) as a manual gap and fills it now from the Tardis history API through the gap-filler's
own code (same rows, same row ids: overlap with live data is harmless). Needs the gap-filler's environment.
  --stream ID     a stream listed in RELAY_STREAMS
  --from ISO      start, e.g. 2026-11-26T18:00:00Z
  --to ISO        end (exclusive), not in the future
  --json          the gap as JSON
Exits 1 when the window could not be filled (the reason is printed).`,
  scheduler: `usage: npm run ops -- scheduler run|pause|resume|status [--json]

The gap-filler's Cloud Scheduler job (SCHEDULER_JOB), through the Cloud Scheduler API
(SCHEDULER_API_ENDPOINT=host:port for the local stand-in).
  run       run the job now (as RunJob: may overlap a scheduled run; the gap-filler's lease absorbs it)
  pause     stop the schedule
  resume    start the schedule again
  status    state, schedule, last attempt and its status
  --json    the job as JSON`,
  serve: `usage: npm run ops -- serve [--port N] [--host H] [--hours H] [--refresh S]

Serves a status page of the deployment until Ctrl-C, and prints its URL. Per stream in RELAY_STREAMS: a
timeline of the last hours with live coverage, backfilled coverage and gaps not yet filled (from the
coverage table and the gap ledger), freshness lag, the gap ledger with states and attempts, and quarantine
counts by reason. The page refreshes by itself; GET /api/status returns the same data as JSON (HTTP 502,
with the error named, when BigQuery or Firestore could not be read).
  --port N        listen on port N (default ${SERVE_DEFAULTS.port}; 0 picks a free one)
  --host H        listen on address H (default ${SERVE_DEFAULTS.host}; the page shows deployment data,
                  so expose it wider only on purpose)
  --hours H       the timeline's length, up to 720 (default ${SERVE_DEFAULTS.hours}; fractions allowed)
  --refresh S     the page reloads its data every S seconds, 1 to 3600 (default ${SERVE_DEFAULTS.refreshS})`,
};

export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      (command === undefined ? io.err : io.out)(HELP);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    if (!(command in COMMAND_HELP)) throw new UsageError(`unknown command "${command}"`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(COMMAND_HELP[command]!);
      return EXIT.ok;
    }
    return await dispatch(command, rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      io.err(command && COMMAND_HELP[command] ? COMMAND_HELP[command] : COMMANDS);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.err(`error: configuration: ${error.message}`);
      return EXIT.config;
    }
    io.err(`error: ${error instanceof OpsError ? error.message : describe(error)}`);
    return EXIT.failed;
  }
}

async function dispatch(command: string, args: readonly string[], io: Io): Promise<number> {
  switch (command) {
    case 'gaps': {
      const { values } = flags(args, {
        state: { type: 'string' },
        stream: { type: 'string' },
        json: { type: 'boolean' },
      });
      const states = parseStates(values.state as string | undefined);
      const key = stream(values.stream);
      const env = readLedgerEnv(io.env);
      if (key) knownStream(key, env.streams);
      const { gapsCommand } = await import('./ledger.ts');
      return gapsCommand({ states, stream: key, json: !!values.json }, env, io);
    }
    case 'checkpoints': {
      const { values } = flags(args, { json: { type: 'boolean' } });
      const env = readLedgerEnv(io.env);
      const { checkpointsCommand } = await import('./ledger.ts');
      return checkpointsCommand({ json: !!values.json }, env, io);
    }
    case 'backfill': {
      const { values } = flags(args, {
        stream: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        json: { type: 'boolean' },
      });
      const key = stream(values.stream);
      if (!key) throw new UsageError('--stream is required (exchange:symbol:type)');
      const from = parseInstant('from', values.from as string | undefined);
      const to = parseInstant('to', values.to as string | undefined);
      if (to <= from) throw new UsageError('--to must be later than --from');
      if (to > Date.now())
        throw new UsageError(`--to ${values.to} is in the future: history has nothing there yet`);
      const config = readGapfillConfig(io.env);
      knownStream(key, config.streams);
      const { backfillCommand } = await import('./backfill.ts');
      return backfillCommand({ stream: key, from, to, json: !!values.json }, config, io);
    }
    case 'scheduler': {
      const { values, positionals } = flags(args, { json: { type: 'boolean' } }, true);
      const [action, ...extra] = positionals;
      if (!action || !(SCHEDULER_ACTIONS as readonly string[]).includes(action) || extra.length > 0) {
        throw new UsageError(`scheduler needs one action: ${SCHEDULER_ACTIONS.join(', ')}`);
      }
      const env = readSchedulerEnv(io.env);
      const { schedulerCommand } = await import('./scheduler.ts');
      return schedulerCommand(action as (typeof SCHEDULER_ACTIONS)[number], { json: !!values.json }, env, io);
    }
    case 'fleet': {
      const { values } = flags(args, { json: { type: 'boolean' } });
      const env = readFleetEnv(io.env);
      const { fleetCommand } = await import('./fleet.ts');
      return fleetCommand({ json: !!values.json }, env, io);
    }
    case 'serve': {
      const { values } = flags(args, {
        port: { type: 'string' },
        host: { type: 'string' },
        hours: { type: 'string' },
        refresh: { type: 'string' },
      });
      const serveArgs = {
        port: number('port', values.port, SERVE_DEFAULTS.port, 0, 65_535, true),
        host: (values.host as string | undefined) ?? SERVE_DEFAULTS.host,
        hours: number('hours', values.hours, SERVE_DEFAULTS.hours, 0, 720),
        refreshMs: number('refresh', values.refresh, SERVE_DEFAULTS.refreshS, 1, 3600) * 1000,
      };
      if (serveArgs.hours <= 0) throw new UsageError('--hours must be more than 0');
      if (!serveArgs.host) throw new UsageError('--host must not be empty');
      const env = readStatusEnv(io.env);
      const { serveCommand } = await import('./serve.ts');
      return serveCommand(serveArgs, env, io);
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function parseStates(raw: string | undefined): GapState[] {
  if (raw === undefined) return [];
  const states = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const state of states) {
    if (!(GAP_STATES as readonly string[]).includes(state)) {
      throw new UsageError(`unknown gap state "${state}" in --state (one of ${GAP_STATES.join(', ')})`);
    }
  }
  return states as GapState[];
}

/** An ISO 8601 date-time with a zone (`2026-11-26T18:00:00Z`), as epoch milliseconds. */
function parseInstant(flag: string, raw: string | undefined): number {
  if (raw === undefined) throw new UsageError(`--${flag} is required (ISO 8601, e.g. 2026-11-26T18:00:00Z)`);
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)
    ? Date.parse(raw)
    : NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(
      `--${flag} "${raw}" is not an ISO 8601 date-time with a zone (e.g. 2026-11-26T18:00:00Z)`,
    );
  }
  return ms;
}

/** A numeric flag within [min, max] (an integer when `integer`), or its default when absent. */
function number(
  flag: string,
  raw: unknown,
  fallback: number,
  min: number,
  max: number,
  integer = false,
): number {
  if (raw === undefined) return fallback;
  const text = String(raw).trim();
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${flag} "${String(raw)}" is not ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
    );
  }
  return n;
}

type FlagSpec = Record<string, { type: 'string' | 'boolean' }>;

function flags(args: readonly string[], options: FlagSpec, allowPositionals = false) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

function stream(raw: unknown): StreamKey | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseStreamId(String(raw));
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.message}${code !== undefined && !error.message.includes(String(code)) ? ` (code ${String(code)})` : ''}`;
}
