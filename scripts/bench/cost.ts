// `npm run bench -- cost [--json] [--symbols 4] [--rate 39] [--seconds 20] [--seed 1] [--types a,b]
//   [--warmup 12] [--profile DIR] [--reference-streams 500] [--reference-tps 10000] [--history-days 365] [--reference-groups 120]
//   [--reference-bundlers 12]`
// What a tick costs: the local pipeline runs twice, today's design ("before") and the new defaults
// ("after"), its deployables reaching Pub/Sub and Firestore through counting taps (scripts/local/
// grpc-tap.ts, push-tap.ts); billed units per tick are scaled to the reference deployment and priced
// with the dated table in cost/prices.ts, beside a modelled Pub/Sub BigQuery subscription ("anchor").
// Query bytes come from the BigQuery stand-in's model over a year of history (cost/query-bytes.ts).
// Relays' own compute is counted on neither side. The last line is one JSON object (docs/COST.md).
import { parseArgs } from 'node:util';
import type { DataType } from '../../functions/core/model/streams.ts';
import { checkpointDocId, type CheckpointLayout } from '../../functions/core/writer/checkpoint-groups.ts';
import { startEmulators } from '../local/emulators.ts';
import { startGrpcTap } from '../local/grpc-tap.ts';
import { simulatedTypes, type ExchangeStreams } from '../local/stream-mix.ts';
import { FirestoreCounter, PublishCounter } from './cost/grpc-usage.ts';
import { measure, type RunCounts } from './cost/measure.ts';
import { referenceBundleCuts } from './cost/bundle-cuts.ts';
import { SECONDS_PER_MONTH, type Reference } from './cost/model.ts';
import { price, type CostSummary } from './cost/report.ts';

/** The switches of each design (docs/COST.md); unknown ones are ignored by a build that lacks them. */
const DESIGNS = {
  before: {
    WRITER_INGEST: 'insert-all',
    RELAY_MESSAGE_FORMAT: 'v3',
    CHECKPOINT_LAYOUT: 'per-stream',
    GAPFILL_DETECTION: 'warehouse',
    RELAY_TRADE_ID_CHECK: 'off',
    CHECKPOINT_MIN_INTERVAL_MS: '1000',
  },
  after: {
    WRITER_INGEST: 'storage-write',
    RELAY_MESSAGE_FORMAT: 'v4',
    CHECKPOINT_LAYOUT: 'grouped',
    GAPFILL_DETECTION: 'checkpoints',
    RELAY_TRADE_ID_CHECK: 'on',
    // What infra/modules/writer sets (a checkpoint may lag this much; GAPFILL_SETTLE_MS is 20 s).
    CHECKPOINT_MIN_INTERVAL_MS: '5000',
  },
} as const;
const EXCHANGE = 'binance-futures';
/** Past the writer's first appends and checkpoints and the relay's startup checks (10 s grace; docs/COST.md). */
const DEFAULT_WARMUP_SECONDS = 12;
const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt', 'xrpusdt', 'dogeusdt', 'adausdt', 'bnbusdt', 'ltcusdt'];

export interface CostOptions {
  /** Symbols of the local mix (each with every type the simulator plays for binance-futures). */
  readonly symbols: number;
  /** Narrows the types of the mix (default: all of them, busy and quiet). */
  readonly types?: readonly DataType[];
  readonly ratePerSymbol: number;
  readonly seconds: number;
  /** Seconds after the relay starts before counting, reported apart (default DEFAULT_WARMUP_SECONDS). */
  readonly warmupSeconds?: number;
  /** A directory for the writer's V8 CPU profiles (one per design), as `npm run bench -- writer --profile`. */
  readonly profileDir?: string;
  readonly seed: number;
  readonly reference: Reference;
  /** Running emulators to use (host:port); a pair is started and stopped when absent. */
  readonly emulators?: { readonly pubsub: string; readonly firestore: string };
  readonly say: (line: string, data?: Record<string, unknown>) => void;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      symbols: { type: 'string', default: '4' },
      rate: { type: 'string', default: '39' },
      seconds: { type: 'string', default: '20' },
      warmup: { type: 'string', default: String(DEFAULT_WARMUP_SECONDS) },
      profile: { type: 'string' },
      seed: { type: 'string', default: '1' },
      types: { type: 'string' },
      'reference-streams': { type: 'string', default: '500' },
      'reference-tps': { type: 'string', default: '10000' },
      'history-days': { type: 'string', default: '365' },
      'reference-groups': { type: 'string', default: '120' },
      'reference-bundlers': { type: 'string', default: '12' },
    },
  });
  const num = (name: keyof typeof values, min: number, max: number): number => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be within ${min}-${max}`);
    return v;
  };
  const summary = await costBench({
    symbols: num('symbols', 1, SYMBOLS.length),
    ratePerSymbol: num('rate', 0.1, 1000),
    seconds: num('seconds', 2, 600),
    warmupSeconds: num('warmup', 0, 600),
    ...(values.profile ? { profileDir: values.profile } : {}),
    seed: num('seed', 0, 2 ** 31),
    ...(values.types ? { types: values.types.split(',').map((t) => t.trim() as DataType) } : {}),
    reference: {
      streams: num('reference-streams', 1, 1e6),
      ticksPerSecond: num('reference-tps', 1, 1e8),
      historyDays: num('history-days', 1, 3660),
      gapfillRunsPerMonth: SECONDS_PER_MONTH / 60,
      checkpointGroups: num('reference-groups', 1, 1e6),
      bundlers: num('reference-bundlers', 1, 1e6),
    },
    say: (line, data = {}) =>
      process.stderr.write(
        values.json
          ? `${JSON.stringify({ bench: 'cost', message: line, ...data })}\n`
          : `[bench cost] ${line} ${JSON.stringify(data)}\n`,
      ),
  });
  console.log(JSON.stringify(summary));
  return 0;
}

/** Measures both designs on the local pipeline and prices them at the reference. */
export async function costBench(o: CostOptions): Promise<CostSummary> {
  const types = simulatedTypes(EXCHANGE).filter((t) => !o.types || o.types.includes(t));
  if (types.length === 0) throw new Error(`no type of ${EXCHANGE} in ${o.types?.join(',')}`);
  const mix: ExchangeStreams[] = [
    {
      exchange: EXCHANGE,
      symbols: SYMBOLS.slice(0, o.symbols),
      types,
    },
  ];
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const publish = new PublishCounter();
  const firestore = new FirestoreCounter();
  const gapfillFirestore = new FirestoreCounter();
  const emulators = o.emulators ? undefined : await startEmulators({ projectId: 'tickstream-cost' });
  const hosts = o.emulators ?? { pubsub: emulators!.pubsub.host, firestore: emulators!.firestore.host };
  const runs: Partial<Record<keyof typeof DESIGNS, RunCounts>> = {};
  const stops: (() => Promise<void>)[] = [];
  try {
    const pubsubTap = await startGrpcTap(hosts.pubsub, (m) => publish.onMessage(m));
    stops.push(() => pubsubTap.stop());
    const firestoreTap = await startGrpcTap(hosts.firestore, (m) => firestore.onMessage(m));
    stops.push(() => firestoreTap.stop());
    const gapfillTap = await startGrpcTap(hosts.firestore, (m) => gapfillFirestore.onMessage(m));
    stops.push(() => gapfillTap.stop());
    const taps = {
      hosts: { pubsub: pubsubTap.host, firestore: firestoreTap.host, gapfillFirestore: gapfillTap.host },
      publish: () => ({ ...publish.usage }),
      firestore: () => ({ ...firestore.usage }),
      gapfillFirestore: () => ({ ...gapfillFirestore.usage }),
    };
    for (const design of ['before', 'after'] as const) {
      o.say('measuring', { design, streams: mix, rate_per_symbol: o.ratePerSymbol });
      runs[design] = await measure(taps, {
        suffix: `cost_${design}_${Date.now().toString(36)}`,
        seed: o.seed,
        ratePerSymbol: o.ratePerSymbol,
        streams: mix,
        seconds: o.seconds,
        warmupSeconds: o.warmupSeconds ?? DEFAULT_WARMUP_SECONDS,
        ...(o.profileDir ? { profileDir: o.profileDir } : {}),
        env: DESIGNS[design],
        say: o.say,
      });
    }
  } finally {
    for (const stop of stops.reverse()) await stop();
    await emulators?.stop();
  }
  // Every symbol has every type: the share of trade streams (each has its trade-id query before).
  const tradeShare = mix[0]!.types.includes('trade') ? 1 / mix[0]!.types.length : 0;
  const docs = (layout: CheckpointLayout) =>
    new Set(
      mix.flatMap((m) =>
        m.symbols.flatMap((symbol) =>
          m.types.map((type) => checkpointDocId({ exchange: m.exchange, symbol, type }, layout)),
        ),
      ),
    ).size;
  const checkpointDocs = {
    before: { local: docs('per-stream'), reference: o.reference.streams },
    after: { local: docs('grouped'), reference: o.reference.checkpointGroups },
  };
  // v3 sends each stream's batches (pushes follow streams); v4 one bundle per relay here, per shard there,
  // each cut at the rate its rule gives at the reference's ticks per bundle.
  const bundleCuts = referenceBundleCuts(runs.after!, o.reference);
  const messageSources = {
    before: { local: docs('per-stream'), reference: o.reference.streams },
    after: { local: 1, reference: o.reference.bundlers, perSecond: bundleCuts.per_second },
  };
  return price(
    runs.before!,
    runs.after!,
    o.reference,
    tradeShare,
    mix[0]!,
    checkpointDocs,
    messageSources,
    bundleCuts,
    o.say,
  );
}
