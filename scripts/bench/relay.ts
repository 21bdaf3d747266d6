// `npm run bench -- relay [--json] [--fleet] [--encoding identity|gzip] [--trade-id-check on|off] [--messages N]
// [--rounds R] [--chunk C]`: the relay's hot path on recorded Binance frames, against tardis-dev's normalizer
// alone and bare JSON.parse on the same frames, in one run.
//
// The frames are generated deterministically from the exchange simulator's ground truth (5 symbols,
// trades and book tickers interleaved in time order) as the raw combined-stream JSON the websocket
// carries. Each variant starts from the frame text:
//   jsonParse:  JSON.parse
//   normalizer: JSON.parse + new Date() (tardis-dev's receive stamp) + tardis-dev's stock mappers
//   relay:      the same through the relay's RawTickNormalizer (tardis-dev's mappers, update id read
//               from the raw message, core tick) + row id + the trade-id check (on, as the relay's default
//               RELAY_TRADE_ID_CHECK) + per-stream batching with coverage windows + message encoding (v3
//               sections bundled as v4, the relay's default format) + a publisher that only counts.
//               `--encoding gzip` adds what the relay's default RELAY_MESSAGE_ENCODING does to each bundle;
//               the default leaves it out: the 0.8 target is the per-tick path's (docs/PERFORMANCE.md)
// and the last two again behind an async source of parsed messages: tardis-dev's own pipeline
// (normalizeMessages, as streamNormalized runs it) and the relay's live feed loop (TardisLiveFeed's
// drive over tardis-dev's raw stream).
// In each of R rounds every variant processes all frames, in chunks of C frames taken by the variants in
// turn, and its CPU time is summed. Rates are ticks (one per frame here) per CPU second, each variant's best
// round; ratios are the median over rounds of the round's ratio.
import { parseArgs } from 'node:util';
// tardis-dev's own driver of its normalizers (what streamNormalized runs after the socket); not in its
// typed public API, so imported from the file.
import { normalizeMessages } from 'tardis-dev/dist/handy.js';
import {
  normalizeBookTickers,
  normalizeTrades,
  type Exchange,
  type Mapper,
  type MapperFactory,
  type NormalizedData,
} from 'tardis-dev';
import { drive } from '../../functions/adapters/tardis/abortable.ts';
import { RawTickNormalizer } from '../../functions/adapters/tardis/normalizers.ts';
import { DEFAULT_BATCH_LIMITS } from '../../functions/core/relay/batcher.ts';
import type { MessageEncoding } from '../../functions/core/contract/compression.ts';
import { pollIntervalMs, RELAY_OPTIONS } from '../../functions/relay/config.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import type { EncodedMessage } from '../../functions/core/contract/batch.ts';
import type { TickFeed, TickPublisher } from '../../functions/core/ports.ts';
import { FleetShard } from '../../functions/core/relay/fleet-shard.ts';
import { RelayService } from '../../functions/core/relay/relay-service.ts';
import type { StreamKey } from '../../functions/core/model/streams.ts';
import type { Tick as CoreTick } from '../../functions/core/model/tick.ts';
import { binanceFrame } from '../local/exchange/binance-wire.ts';
import { tickSource, type Tick } from '../local/exchange/ground-truth.ts';

const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt', 'bnbusdt', 'adausdt'];
const TARGET = 0.8;
/** The relay's poll interval at the default batch wait, as functions/relay/main.ts sets it. */
const TICK_INTERVAL_MS = pollIntervalMs(DEFAULT_BATCH_LIMITS.maxWaitMs);

/** One recorded frame: the text the websocket carried and when the relay received it (epoch ms). */
export interface RecordedFrame {
  readonly text: string;
  readonly receivedAt: number;
}

/** Receive latency added to the exchange time of each recorded frame. */
const LATENCY_MS = 3;

/** Raw frames, in time order across symbols and kinds, as the simulator would send them. */
export function recordedFrames(count: number, seed = 20261126): RecordedFrame[] {
  const perStream = Math.ceil(count / (SYMBOLS.length * 2));
  const from = Date.UTC(2026, 0, 5, 12);
  const ticks: Tick[] = [];
  for (const symbol of SYMBOLS) {
    for (const kind of ['trade', 'bookTicker'] as const) {
      const source = tickSource(kind, { seed, exchange: 'binance', symbol, rate: 1000 });
      const first = source.indexAtOrAfter(from);
      ticks.push(...source.ticks(first, first + perStream));
    }
  }
  ticks.sort((a, b) => a.timestamp - b.timestamp || a.symbol.localeCompare(b.symbol));
  return ticks.slice(0, count).map((tick) => ({
    text: JSON.stringify(binanceFrame(asLive(tick), { timeUnit: 'microsecond' })),
    receivedAt: tick.timestamp + LATENCY_MS,
  }));
}

/**
 * Live Binance book ticker update ids (`u`, ~7e10 for BTCUSDT) are unrelated to trade ids (~5e9), while the
 * ground truth numbers both by slot. Offset the quotes' ids so the relay's update-id text is not the text
 * just made for the trade of the same slot, which would make it look free.
 */
const QUOTE_UPDATE_ID_BASE = 70_000_000_000;
function asLive(tick: Tick): Tick {
  return tick.kind === 'bookTicker' ? { ...tick, updateId: QUOTE_UPDATE_ID_BASE + tick.updateId } : tick;
}

type AnyMapper = Mapper<Exchange, NormalizedData>;
const mappersOf = (factories: MapperFactory<Exchange, NormalizedData>[]): AnyMapper[] =>
  factories.map((f) => f('binance', new Date()));
const STOCK_FACTORIES = [normalizeTrades, normalizeBookTickers] as unknown as MapperFactory<
  Exchange,
  NormalizedData
>[];
const RELAY_TYPES = ['trade', 'book_ticker'] as const;

/**
 * One variant over one round: fed the round's frames chunk by chunk, interleaved with the other variants,
 * then ended (a relay flushes and stops). `end` returns the ticks the variant delivered in the round.
 */
export interface Session {
  feed(frames: readonly RecordedFrame[]): void | Promise<void>;
  end(): number | Promise<number>;
}

class JsonParseSession implements Session {
  private n = 0;
  feed(frames: readonly RecordedFrame[]): void {
    for (const frame of frames) {
      const message = JSON.parse(frame.text) as { data?: unknown };
      if (message.data !== undefined) this.n++;
    }
  }
  end(): number {
    return this.n;
  }
}

export class NormalizerSession implements Session {
  private readonly mappers = mappersOf(STOCK_FACTORIES);
  private n = 0;
  feed(frames: readonly RecordedFrame[]): void {
    for (const frame of frames) {
      const message: unknown = JSON.parse(frame.text);
      const local = new Date(frame.receivedAt);
      for (const mapper of this.mappers) {
        if (!mapper.canHandle(message)) continue;
        for (const normalized of mapper.map(message, local) ?? []) if (normalized.type) this.n++;
      }
    }
  }
  end(): number {
    return this.n;
  }
}

/** The publisher port replaced by a sink that counts. */
class CountingPublisher implements TickPublisher {
  messages = 0;
  bytes = 0;
  publish(message: EncodedMessage): Promise<string> {
    this.messages++;
    this.bytes += message.data.length;
    return Promise.resolve(String(this.messages));
  }
  async close(): Promise<void> {}
}

const idleFeed: TickFeed = {
  run: (_sink, signal) => new Promise((r) => signal.addEventListener('abort', () => r())),
};

/** Recorded time: the relay's clock follows the frames' receive times, as if they arrived live. */
class ReplayClock {
  time = 0;
  now(): number {
    return this.time;
  }
}

/** `--fleet`: the relay variants run as a fleet shard's primary (relay/fleet-shard.ts). */
let fleetHotPath = false;
/** `--encoding`: how bundles leave the relay (the relay's default is gzip; the bench's, identity). */
let encoding: MessageEncoding = 'identity';
/** `--trade-id-check`: on as in the relay by default; each jump is counted (the relay records it). */
let tradeIdCheck = RELAY_OPTIONS.tradeIdCheck.default === 'on';
let tradeIdJumps = 0;
const countJump = () => void tradeIdJumps++;

/**
 * What a relay variant is built from: this tree's modules, or another tree's copy of them (relay-paired.ts
 * loads a commit's `functions/`), so each tree runs its own compiled code.
 */
export interface RelayModules {
  readonly RelayService: typeof RelayService;
  readonly RawTickNormalizer: typeof RawTickNormalizer;
  readonly DEFAULT_BATCH_LIMITS: typeof DEFAULT_BATCH_LIMITS;
  readonly RELAY_OPTIONS: typeof RELAY_OPTIONS;
  readonly silentLogger: typeof silentLogger;
  /** Absent in trees from before the fleet; `--fleet` needs it. */
  readonly FleetShard?: typeof FleetShard;
}

const THIS_TREE: RelayModules = {
  RelayService,
  RawTickNormalizer,
  DEFAULT_BATCH_LIMITS,
  RELAY_OPTIONS,
  silentLogger,
  FleetShard,
};

/** A relay on the recorded clock whose timer (every 25 ms of recorded time) the session runs. */
export class RecordedRelay {
  readonly publisher = new CountingPublisher();
  readonly clock = new ReplayClock();
  readonly relay: RelayService;
  private nextTick: number;

  constructor(start: number, tree: RelayModules = THIS_TREE) {
    const streams: StreamKey[] = SYMBOLS.flatMap((symbol) =>
      (['trade', 'book_ticker'] as const).map((type) => ({ exchange: 'binance', symbol, type })),
    );
    this.clock.time = start;
    this.nextTick = start + TICK_INTERVAL_MS;
    const options = {
      relayId: 'relay-bench',
      limits: tree.DEFAULT_BATCH_LIMITS,
      maxInFlightBytes: 1 << 30,
      // The relay's own interval: its batch and bundle waits are set one poll early from it.
      tickIntervalMs: TICK_INTERVAL_MS,
      messageFormat: tree.RELAY_OPTIONS.messageFormat.default,
      messageEncoding: encoding,
      ...(tradeIdCheck ? { onTradeIdJump: countJump } : {}),
    };
    if (fleetHotPath) {
      if (tree.FleetShard === undefined) throw new Error('--fleet: this tree has no fleet shard');
      // A fleet member's primary replica of one shard: the gate stamps shard and epoch on every batch.
      const shard = { id: 'binance/0', exchange: 'binance', index: 0, streams };
      const held = new tree.FleetShard(
        shard,
        idleFeed,
        this.publisher,
        this.clock,
        tree.silentLogger,
        options,
        1 << 26,
      );
      held.promote(1, null);
      this.relay = held.service;
    } else {
      this.relay = new tree.RelayService(idleFeed, this.publisher, this.clock, tree.silentLogger, {
        ...options,
        streams,
      });
    }
    // Not started: the session runs the relay's timer on the recorded clock, and a started relay would
    // also poll on the wall clock.
  }

  /** Runs the relay's timer for every 25 ms of recorded time that has passed by `at`; true if it ran. */
  advance(at: number): boolean {
    let ran = false;
    while (at >= this.nextTick) {
      this.clock.time = this.nextTick;
      this.relay.tick();
      this.nextTick += TICK_INTERVAL_MS;
      ran = true;
    }
    this.clock.time = at;
    return ran;
  }

  async stop(): Promise<number> {
    this.clock.time += 1;
    await this.relay.stop();
    return this.relay.counters.ticksPublished;
  }
}

/** The relay's hot path: the relay's normalizer (core ticks), then the service (batch, encode, publish). */
export class RelaySession implements Session {
  private readonly normalizer: RawTickNormalizer;
  private readonly onTick: (tick: CoreTick) => void;
  constructor(
    private readonly recorded: RecordedRelay,
    tree: RelayModules = THIS_TREE,
  ) {
    this.normalizer = new tree.RawTickNormalizer('binance', RELAY_TYPES, new Date());
    const { relay } = recorded;
    this.onTick = (tick) => relay.accept({ kind: 'tick', tick });
  }
  async feed(frames: readonly RecordedFrame[]): Promise<void> {
    for (const frame of frames) {
      // Let publish bookkeeping run after the timer, as it would between socket reads.
      if (this.recorded.advance(frame.receivedAt)) await Promise.resolve();
      const message: unknown = JSON.parse(frame.text);
      this.normalizer.normalize(message, new Date(frame.receivedAt), this.onTick);
    }
  }
  end(): Promise<number> {
    return this.recorded.stop();
  }
}

type NormalizeMessages = (
  exchange: string,
  symbols: string[] | undefined,
  messages: AsyncIterable<{ localTimestamp: Date; message: unknown } | undefined>,
  mappers: AnyMapper[],
  createMappers: (localTimestamp: Date) => AnyMapper[],
  withDisconnectMessages: boolean | undefined,
  filter: ((symbol: string) => boolean) | undefined,
  currentTimestamp: Date,
) => AsyncIterableIterator<{ type: string }>;

/**
 * What tardis-dev's raw stream() yields after the socket: parsed messages stamped with a receive time, here
 * handed over a chunk at a time. `feed` resolves once the consumer has taken the whole chunk and asks for more.
 */
class ChunkedReceiver {
  /** A chunk fed and not yet taken. */
  private pending: readonly RecordedFrame[] | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private drained: (() => void) | undefined;

  feed(frames: readonly RecordedFrame[]): Promise<void> {
    return new Promise<void>((resolve) => {
      this.pending = frames;
      this.drained = resolve;
      this.wake?.();
    });
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *messages(): AsyncIterableIterator<{ localTimestamp: Date; message: unknown }> {
    for (;;) {
      while (this.pending === undefined && !this.closed) await new Promise<void>((r) => (this.wake = r));
      const chunk = this.pending;
      if (chunk === undefined) return;
      this.pending = undefined;
      for (const frame of chunk) {
        yield { localTimestamp: new Date(frame.receivedAt), message: JSON.parse(frame.text) };
      }
      this.drained?.();
    }
  }
}

/** tardis-dev's normalization pipeline as streamNormalized runs it, minus the websocket. */
function pipeline(receiver: ChunkedReceiver, factories: MapperFactory<Exchange, NormalizedData>[]) {
  const create = (local: Date) => factories.map((f) => f('binance', local));
  return (normalizeMessages as NormalizeMessages)(
    'binance',
    SYMBOLS,
    receiver.messages(),
    create(new Date()),
    create,
    true,
    undefined,
    new Date(),
  );
}

/** tardis-dev's normalizer inside its own async pipeline (normalizeMessages, as streamNormalized). */
class NormalizerPipelineSession implements Session {
  private readonly receiver = new ChunkedReceiver();
  private n = 0;
  private readonly done: Promise<void>;
  constructor() {
    this.done = (async () => {
      for await (const message of pipeline(this.receiver, STOCK_FACTORIES)) if (message.type) this.n++;
    })();
  }
  feed(frames: readonly RecordedFrame[]): Promise<void> {
    return this.receiver.feed(frames);
  }
  async end(): Promise<number> {
    this.receiver.close();
    await this.done;
    return this.n;
  }
}

/** The relay as TardisLiveFeed runs it: tardis-dev's raw stream, then drive -> RawTickNormalizer -> core. */
class RelayPipelineSession implements Session {
  private readonly receiver = new ChunkedReceiver();
  private readonly done: Promise<void>;
  constructor(private readonly recorded: RecordedRelay) {
    const { relay } = recorded;
    const normalizer = new RawTickNormalizer('binance', RELAY_TYPES, new Date());
    const onTick = (tick: CoreTick) => {
      recorded.advance(Math.floor(tick.localTs / 1000));
      relay.accept({ kind: 'tick', tick });
    };
    this.done = drive(
      this.receiver.messages(),
      (received) => normalizer.normalize(received.message, received.localTimestamp, onTick),
      new AbortController().signal,
    );
  }
  feed(frames: readonly RecordedFrame[]): Promise<void> {
    return this.receiver.feed(frames);
  }
  async end(): Promise<number> {
    this.receiver.close();
    await this.done;
    return this.recorded.stop();
  }
}

const VARIANTS = {
  jsonParse: () => new JsonParseSession(),
  normalizer: () => new NormalizerSession(),
  relay: (start: number) => new RelaySession(new RecordedRelay(start)),
  normalizerPipeline: () => new NormalizerPipelineSession(),
  relayPipeline: (start: number) => new RelayPipelineSession(new RecordedRelay(start)),
};
type Variant = keyof typeof VARIANTS;

/** CPU time of this process (user + system, GC threads included), in microseconds. */
export function cpuMicros(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}

/**
 * One round: every variant processes all frames, fed in chunks of `chunk` frames that alternate between
 * the variants (the first to run rotates from chunk to chunk). Returns each variant's CPU microseconds.
 * Interleaving makes each variant meet the same machine: this VM's speed drifts by up to ±30 % within a
 * second, so variants run a whole round apart are compared at different speeds.
 */
async function round(frames: readonly RecordedFrame[], chunk: number): Promise<Record<Variant, number>> {
  const names = Object.keys(VARIANTS) as Variant[];
  const start = frames[0]?.receivedAt ?? 0;
  const cpu = await interleavedRound(frames, chunk, names, (name) => VARIANTS[name](start));
  return Object.fromEntries(names.map((name, i) => [name, cpu[i]!])) as Record<Variant, number>;
}

/** `round` for any named sessions: each one's CPU microseconds, in the order of `names`. */
export async function interleavedRound<Name extends string>(
  frames: readonly RecordedFrame[],
  chunk: number,
  names: readonly Name[],
  open: (name: Name) => Session,
): Promise<number[]> {
  const sessions = names.map(open);
  const cpu = names.map(() => 0);
  const timed = async (i: number, work: () => unknown) => {
    const before = cpuMicros();
    await work();
    cpu[i]! += cpuMicros() - before;
  };
  for (let from = 0, k = 0; from < frames.length; from += chunk, k++) {
    const part = frames.slice(from, from + chunk);
    for (let j = 0; j < names.length; j++) {
      const i = (j + k) % names.length;
      await timed(i, () => sessions[i]!.feed(part));
    }
  }
  for (const [i, session] of sessions.entries()) {
    let ticks = 0;
    await timed(i, async () => (ticks = await session.end()));
    if (ticks !== frames.length) throw new Error(`${names[i]} delivered ${ticks} of ${frames.length} ticks`);
  }
  return cpu;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      fleet: { type: 'boolean', default: false },
      encoding: { type: 'string', default: 'identity' },
      'trade-id-check': { type: 'string', default: RELAY_OPTIONS.tradeIdCheck.default },
      messages: { type: 'string', default: '200000' },
      // Single rounds spread by about ±0.1 on this VM; the median of 25 holds a run to about ±0.01, where 9
      // rounds left ±0.02, as wide as the relay's margin over the target (docs/performance-history.md, sixth pass).
      rounds: { type: 'string', default: '25' },
      // A tenth of the frames: small enough that every variant meets the same drift of the machine, large
      // enough that refilling caches after the other variants ran costs nothing measurable (docs/PERFORMANCE.md).
      chunk: { type: 'string', default: '20000' },
    },
  });
  fleetHotPath = values.fleet;
  if (values.encoding !== 'identity' && values.encoding !== 'gzip')
    throw new Error('--encoding must be identity or gzip');
  encoding = values.encoding;
  if (values['trade-id-check'] !== 'on' && values['trade-id-check'] !== 'off')
    throw new Error('--trade-id-check must be on or off');
  tradeIdCheck = values['trade-id-check'] === 'on';
  const count = Number(values.messages);
  const rounds = Number(values.rounds);
  const chunk = Number(values.chunk);
  for (const [name, value] of Object.entries({ messages: count, rounds, chunk })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  }
  const say = (text: string) => {
    if (!values.json) console.log(text);
  };
  const frames = recordedFrames(count);
  const avgBytes = Math.round(frames.reduce((n, f) => n + f.text.length, 0) / frames.length);
  say(
    `relay hot path: ${frames.length} Binance frames (5 symbols, trades + book tickers, ${avgBytes} B avg), ` +
      `${rounds} rounds, variants interleaved every ${chunk} frames; relay: ${fleetHotPath ? 'fleet shard primary' : 'single'}, ` +
      `encoding ${encoding}, trade-id check ${tradeIdCheck ? 'on' : 'off'}`,
  );
  // What the relay publishes for the frames, and a warm-up of its path.
  const recorded = new RecordedRelay(frames[0]?.receivedAt ?? 0);
  const relaySession = new RelaySession(recorded);
  await relaySession.feed(frames);
  const published = await relaySession.end();
  if (published !== frames.length) throw new Error(`relay published ${published} of ${frames.length} ticks`);
  const { messages, bytes } = recorded.publisher;
  // Jumps cut coverage windows: the recorded frames have none, so each one would be a finding.
  const jumpsInOneRun = tradeIdJumps;
  // A whole unmeasured round, so the first measured one is not a JIT round.
  await round(frames, chunk);

  const results: Record<Variant, number[]> = {
    jsonParse: [],
    normalizer: [],
    relay: [],
    normalizerPipeline: [],
    relayPipeline: [],
  };
  for (let r = 0; r < rounds; r++) {
    const cpu = await round(frames, chunk);
    for (const name of Object.keys(results) as Variant[]) {
      results[name].push(Math.round(frames.length / (cpu[name] / 1e6)));
    }
  }
  const best = (xs: number[]) => Math.max(...xs);
  const jsonParse = best(results.jsonParse);
  const normalizer = best(results.normalizer);
  const relay = best(results.relay);
  const normalizerPipeline = best(results.normalizerPipeline);
  const relayPipeline = best(results.relayPipeline);
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  const ratio = (a: number, b: number) => round3(a / b);
  // Ratios are the median over rounds of each round's ratio (the variants interleaved within the round);
  // the rates are each variant's best round, in ticks per CPU second.
  const roundRatios = (xs: number[], ys: number[]) => xs.map((x, i) => x / ys[i]!).sort((a, b) => a - b);
  const pairedMedian = (xs: number[], ys: number[]) => {
    const rs = roundRatios(xs, ys);
    const mid = rs.length >> 1;
    return round3(rs.length % 2 ? rs[mid]! : (rs[mid - 1]! + rs[mid]!) / 2);
  };
  const spread = (xs: number[], ys: number[]) => {
    const rs = roundRatios(xs, ys);
    return [round3(rs[0]!), round3(rs.at(-1)!)];
  };
  say(`  JSON.parse only        ${jsonParse.toLocaleString('en')} ticks/s`);
  say(`  tardis-dev normalizer  ${normalizer.toLocaleString('en')} ticks/s`);
  say(
    `  tardis-dev pipeline    ${normalizerPipeline.toLocaleString('en')} ticks/s (normalizeMessages, async, as streamNormalized)`,
  );
  say(
    `  relay live feed loop   ${relayPipeline.toLocaleString('en')} ticks/s (drive over the raw stream, as TardisLiveFeed)`,
  );
  say(
    `  relay hot path         ${relay.toLocaleString('en')} ticks/s (${messages} messages, ${Math.round(bytes / published)} B/tick as published)`,
  );
  const relayVsNormalizer = pairedMedian(results.relay, results.normalizer);
  const summary = {
    benchmark: 'relay',
    frames: frames.length,
    rounds,
    chunk,
    fleet: fleetHotPath,
    encoding,
    tradeIdCheck: tradeIdCheck ? 'on' : 'off',
    tradeIdJumps: jumpsInOneRun,
    jsonParseTicksPerS: jsonParse,
    normalizerTicksPerS: normalizer,
    relayTicksPerS: relay,
    relayVsNormalizer,
    // The lowest and highest round, to show how far one round can be trusted.
    relayVsNormalizerRounds: spread(results.relay, results.normalizer),
    relayVsJsonParse: pairedMedian(results.relay, results.jsonParse),
    normalizerVsJsonParse: pairedMedian(results.normalizer, results.jsonParse),
    bestRelayVsBestNormalizer: ratio(relay, normalizer),
    // Behind an async source of parsed messages: the relay's live feed loop against tardis-dev's own
    // pipeline (streamNormalized's), which the relay used to run and no longer does.
    normalizerPipelineTicksPerS: normalizerPipeline,
    relayPipelineTicksPerS: relayPipeline,
    relayVsNormalizerPipeline: pairedMedian(results.relayPipeline, results.normalizerPipeline),
    // Bytes per tick as published: v3 sections in v4 bundles, gzipped with `--encoding gzip`.
    encodedBytesPerTick: Math.round(bytes / published),
    target: TARGET,
    pass: relayVsNormalizer >= TARGET,
  };
  console.log(JSON.stringify(summary));
  return summary.pass ? 0 : 1;
}
