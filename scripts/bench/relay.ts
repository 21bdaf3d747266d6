// `npm run bench -- relay [--json] [--messages N] [--rounds R]`: the relay's hot path on recorded Binance
// frames, against tardis-dev's normalizer alone and bare JSON.parse on the same frames, in one run.
//
// The frames are generated deterministically from the exchange simulator's ground truth (5 symbols,
// trades and book tickers interleaved in time order) as the raw combined-stream JSON the websocket
// carries. Each variant starts from the frame text:
//   jsonParse:  JSON.parse
//   normalizer: JSON.parse + new Date() (tardis-dev's receive stamp) + tardis-dev's stock mappers
//   relay:      the same + the relay's mappers (update id) + core tick mapping + row id + per-stream
//               batching with coverage windows + message encoding (v2) + a publisher that only counts
// Rates are normalized ticks (one per frame here) per CPU second; the best of R rounds is reported. Ratios
// are the median over the R rounds of the paired ratio of two variants measured back to back.
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
import { drive } from '../../functions/adapters/abortable.ts';
import { toFeedEvent } from '../../functions/adapters/tardis-live.ts';
import { fromTardis } from '../../functions/adapters/tardis-mapping.ts';
import { TICK_NORMALIZERS } from '../../functions/adapters/tardis-normalizers.ts';
import { DEFAULT_BATCH_LIMITS } from '../../functions/core/batcher.ts';
import type { TickFeed } from '../../functions/core/feed.ts';
import { silentLogger } from '../../functions/core/logger.ts';
import type { EncodedMessage } from '../../functions/core/message.ts';
import type { TickPublisher } from '../../functions/core/ports.ts';
import { RelayService } from '../../functions/core/relay-service.ts';
import type { StreamKey } from '../../functions/core/streams.ts';
import { binanceFrame } from '../local/exchange/binance-wire.ts';
import { tickSource, type Tick } from '../local/exchange/ground-truth.ts';

const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt', 'bnbusdt', 'adausdt'];
const TARGET = 0.8;
const TICK_INTERVAL_MS = 25;

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

function runJsonParse(frames: readonly RecordedFrame[]): number {
  let n = 0;
  for (const frame of frames) {
    const message = JSON.parse(frame.text) as { data?: unknown };
    if (message.data !== undefined) n++;
  }
  return n;
}

function runNormalizer(frames: readonly RecordedFrame[]): number {
  const mappers = mappersOf([
    normalizeTrades as unknown as MapperFactory<Exchange, NormalizedData>,
    normalizeBookTickers as unknown as MapperFactory<Exchange, NormalizedData>,
  ]);
  let n = 0;
  for (const frame of frames) {
    const message: unknown = JSON.parse(frame.text);
    const local = new Date(frame.receivedAt);
    for (const mapper of mappers) {
      if (!mapper.canHandle(message)) continue;
      for (const normalized of mapper.map(message, local) ?? []) if (normalized.type) n++;
    }
  }
  return n;
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

/** What tardis-dev's stream() yields after the socket: parsed messages stamped with a receive time. */
async function* received(
  frames: readonly RecordedFrame[],
): AsyncIterableIterator<{ localTimestamp: Date; message: unknown }> {
  for (const frame of frames)
    yield { localTimestamp: new Date(frame.receivedAt), message: JSON.parse(frame.text) };
}

/** tardis-dev's normalization pipeline as streamNormalized runs it, minus the websocket. */
function pipeline(frames: readonly RecordedFrame[], factories: MapperFactory<Exchange, NormalizedData>[]) {
  const create = (local: Date) => factories.map((f) => f('binance', local));
  return (normalizeMessages as NormalizeMessages)(
    'binance',
    SYMBOLS,
    received(frames),
    create(new Date()),
    create,
    true,
    undefined,
    new Date(),
  );
}

async function runNormalizerPipeline(frames: readonly RecordedFrame[]): Promise<number> {
  let n = 0;
  const factories = [normalizeTrades, normalizeBookTickers] as unknown as MapperFactory<
    Exchange,
    NormalizedData
  >[];
  for await (const message of pipeline(frames, factories)) if (message.type) n++;
  return n;
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

function newRelay(frames: readonly RecordedFrame[]) {
  const streams: StreamKey[] = SYMBOLS.flatMap((symbol) =>
    (['trade', 'book_ticker'] as const).map((type) => ({ exchange: 'binance', symbol, type })),
  );
  const publisher = new CountingPublisher();
  const clock = new ReplayClock();
  clock.time = frames[0]?.receivedAt ?? 0;
  const relay = new RelayService(idleFeed, publisher, clock, silentLogger, {
    relayId: 'relay-bench',
    streams,
    limits: DEFAULT_BATCH_LIMITS,
    maxInFlightBytes: 1 << 30,
    tickIntervalMs: 3_600_000,
  });
  void relay.start();
  return { relay, clock, publisher };
}

export async function runRelay(
  frames: readonly RecordedFrame[],
): Promise<{ ticks: number; messages: number; bytes: number }> {
  const { relay, clock, publisher } = newRelay(frames);
  const mappers = mappersOf([TICK_NORMALIZERS.trade, TICK_NORMALIZERS.book_ticker]);
  let nextTick = clock.time + TICK_INTERVAL_MS;
  for (const frame of frames) {
    // What the service's 25 ms timer does, on the recorded clock; and let publish bookkeeping run.
    if (frame.receivedAt >= nextTick) {
      clock.time = nextTick;
      relay.tick();
      nextTick += TICK_INTERVAL_MS;
      await Promise.resolve();
    }
    clock.time = frame.receivedAt;
    const message: unknown = JSON.parse(frame.text);
    const local = new Date(frame.receivedAt);
    for (const mapper of mappers) {
      if (!mapper.canHandle(message)) continue;
      for (const normalized of mapper.map(message, local) ?? []) {
        const tick = fromTardis(normalized);
        if (tick) relay.accept({ kind: 'tick', tick });
      }
    }
  }
  clock.time += 1;
  await relay.stop();
  return { ticks: relay.counters.ticksPublished, messages: publisher.messages, bytes: publisher.bytes };
}

/** The relay as TardisLiveFeed runs it: tardis-dev's pipeline, then drive -> feed event -> core. */
async function runRelayPipeline(frames: readonly RecordedFrame[]): Promise<number> {
  const { relay, clock } = newRelay(frames);
  let nextTick = clock.time + TICK_INTERVAL_MS;
  const source = pipeline(frames, [TICK_NORMALIZERS.trade, TICK_NORMALIZERS.book_ticker]);
  await drive(
    source,
    (message) => {
      const event = toFeedEvent(message);
      if (event === undefined) return;
      if (event.kind === 'tick') {
        const at = Math.floor(event.tick.localTs / 1000);
        if (at >= nextTick) {
          clock.time = nextTick;
          relay.tick();
          nextTick += TICK_INTERVAL_MS;
        }
        clock.time = at;
      }
      relay.accept(event);
    },
    new AbortController().signal,
  );
  clock.time += 1;
  await relay.stop();
  return relay.counters.ticksPublished;
}

/**
 * Ticks per CPU second of one run of `body` (user + system time of this process, GC threads included).
 * CPU time, not wall time: the machine is shared, and CPU time is what another process cannot inflate.
 */
async function measure(body: () => number | Promise<number>): Promise<number> {
  const started = process.cpuUsage();
  const ticks = await body();
  const used = process.cpuUsage(started);
  return Math.round(ticks / ((used.user + used.system) / 1e6));
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      messages: { type: 'string', default: '200000' },
      rounds: { type: 'string', default: '7' },
    },
  });
  const count = Number(values.messages);
  const rounds = Number(values.rounds);
  const say = (text: string) => {
    if (!values.json) console.log(text);
  };
  const frames = recordedFrames(count);
  const avgBytes = Math.round(frames.reduce((n, f) => n + f.text.length, 0) / frames.length);
  say(
    `relay hot path: ${frames.length} Binance frames (5 symbols, trades + book tickers, ${avgBytes} B avg)`,
  );
  // Warm up every path once so the first measured round is not a JIT round.
  runJsonParse(frames);
  runNormalizer(frames);
  const check = await runRelay(frames);
  if (check.ticks !== frames.length)
    throw new Error(`relay published ${check.ticks} of ${frames.length} ticks`);
  await runNormalizerPipeline(frames);
  const viaPipeline = await runRelayPipeline(frames);
  if (viaPipeline !== frames.length)
    throw new Error(`relay (pipeline) published ${viaPipeline} of ${frames.length}`);

  // Interleaved rounds, so drift of the machine (other processes) hits all three alike.
  const results = {
    jsonParse: [] as number[],
    normalizer: [] as number[],
    relay: [] as number[],
    normalizerPipeline: [] as number[],
    relayPipeline: [] as number[],
  };
  for (let r = 0; r < rounds; r++) {
    results.jsonParse.push(await measure(() => runJsonParse(frames)));
    results.normalizer.push(await measure(() => runNormalizer(frames)));
    results.relay.push(await measure(async () => (await runRelay(frames)).ticks));
    results.normalizerPipeline.push(await measure(() => runNormalizerPipeline(frames)));
    results.relayPipeline.push(await measure(() => runRelayPipeline(frames)));
  }
  const best = (xs: number[]) => Math.max(...xs);
  const jsonParse = best(results.jsonParse);
  const normalizer = best(results.normalizer);
  const relay = best(results.relay);
  const normalizerPipeline = best(results.normalizerPipeline);
  const relayPipeline = best(results.relayPipeline);
  const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
  // Ratios are the median over rounds of the paired ratio (the two variants measured back to back in one
  // round), which cancels the machine's drift between rounds; the rates are each variant's best round.
  const pairedMedian = (xs: number[], ys: number[]) => {
    const rs = xs.map((x, i) => x / ys[i]!).sort((a, b) => a - b);
    const mid = rs.length >> 1;
    return Math.round((rs.length % 2 ? rs[mid]! : (rs[mid - 1]! + rs[mid]!) / 2) * 1000) / 1000;
  };
  say(`  JSON.parse only        ${jsonParse.toLocaleString('en')} ticks/s`);
  say(`  tardis-dev normalizer  ${normalizer.toLocaleString('en')} ticks/s`);
  say(
    `  tardis-dev pipeline    ${normalizerPipeline.toLocaleString('en')} ticks/s (normalizeMessages, async, as streamNormalized)`,
  );
  say(`  relay in that pipeline ${relayPipeline.toLocaleString('en')} ticks/s`);
  say(
    `  relay hot path         ${relay.toLocaleString('en')} ticks/s (${check.messages} batches, ${Math.round(check.bytes / check.ticks)} B/tick encoded)`,
  );
  const summary = {
    benchmark: 'relay',
    frames: frames.length,
    rounds,
    jsonParseTicksPerS: jsonParse,
    normalizerTicksPerS: normalizer,
    relayTicksPerS: relay,
    relayVsNormalizer: pairedMedian(results.relay, results.normalizer),
    relayVsJsonParse: pairedMedian(results.relay, results.jsonParse),
    normalizerVsJsonParse: pairedMedian(results.normalizer, results.jsonParse),
    bestRelayVsBestNormalizer: ratio(relay, normalizer),
    // The same comparison inside tardis-dev's async normalization pipeline, as the live relay runs it.
    normalizerPipelineTicksPerS: normalizerPipeline,
    relayPipelineTicksPerS: relayPipeline,
    relayVsNormalizerPipeline: pairedMedian(results.relayPipeline, results.normalizerPipeline),
    encodedBytesPerTick: Math.round(check.bytes / check.ticks),
    target: TARGET,
    pass: pairedMedian(results.relay, results.normalizer) >= TARGET,
  };
  console.log(JSON.stringify(summary));
  return summary.pass ? 0 : 1;
}
