// `npm run bench -- relay-paired --base <commit> [--json] [--rounds R]`: the relay's hot path of this working
// tree against the same path at <commit>, on the relay benchmark's frames, with tardis-dev's normalizer as
// the common baseline. Each tree's relay runs from its own copy of functions/ (the base's is extracted under
// .local/), so neither shares compiled code or type feedback with the other, and the three variants take
// the frames in alternating chunks, as in `relay`. A change worth a percent or two is below what two
// separate `relay` runs can tell apart (docs/PERFORMANCE.md); the paired ratio resolves it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  normalizeBookTickers,
  normalizeTrades,
  type Exchange,
  type MapperFactory,
  type NormalizedData,
} from 'tardis-dev';
import { recordedFrames, type RecordedFrame } from './relay.ts';

const SYMBOLS = ['btcusdt', 'ethusdt', 'solusdt', 'bnbusdt', 'adausdt'];
const TYPES = ['trade', 'book_ticker'] as const;
const TICK_INTERVAL_MS = 25;
const CHUNK = 20_000;
const root = new URL('../../', import.meta.url);

interface Session {
  feed(frames: readonly RecordedFrame[]): Promise<void>;
  end(): Promise<number>;
}

/** The modules one tree's relay is built from (imported from that tree's functions/). */
async function treeModules(functionsUrl: string) {
  const load = (path: string) => import(new URL(path, functionsUrl).href);
  const [service, normalizers, batcher, logger, config] = await Promise.all([
    load('core/relay/relay-service.ts'),
    load('adapters/tardis/normalizers.ts'),
    load('core/relay/batcher.ts'),
    load('core/shared/logger.ts'),
    load('relay/config.ts'),
  ]);
  return { service, normalizers, batcher, logger, config };
}
type Tree = Awaited<ReturnType<typeof treeModules>>;

/** `relay`'s relay variant, built from one tree: its normalizer, then its service on the recorded clock. */
function relaySession(tree: Tree, start: number): Session {
  const clock = { time: start, now: () => clock.time };
  const streams = SYMBOLS.flatMap((symbol) => TYPES.map((type) => ({ exchange: 'binance', symbol, type })));
  const publisher = { publish: () => Promise.resolve('0'), close: async () => {} };
  const idleFeed = {
    run: (_sink: unknown, signal: AbortSignal) => new Promise((r) => signal.addEventListener('abort', r)),
  };
  const relay = new tree.service.RelayService(idleFeed, publisher, clock, tree.logger.silentLogger, {
    relayId: 'relay-bench',
    streams,
    limits: tree.batcher.DEFAULT_BATCH_LIMITS,
    maxInFlightBytes: 1 << 30,
    tickIntervalMs: 3_600_000,
    messageFormat: tree.config.RELAY_OPTIONS.messageFormat.default,
    messageEncoding: 'identity',
    onTradeIdJump: () => {},
  });
  void relay.start();
  const normalizer = new tree.normalizers.RawTickNormalizer('binance', TYPES, new Date());
  const onTick = (tick: unknown) => relay.accept({ kind: 'tick', tick });
  let nextTick = start + TICK_INTERVAL_MS;
  return {
    async feed(frames) {
      for (const frame of frames) {
        let ran = false;
        for (; frame.receivedAt >= nextTick; nextTick += TICK_INTERVAL_MS, ran = true) {
          clock.time = nextTick;
          relay.tick();
        }
        clock.time = frame.receivedAt;
        if (ran) await Promise.resolve();
        normalizer.normalize(JSON.parse(frame.text), new Date(frame.receivedAt), onTick);
      }
    },
    async end() {
      clock.time += 1;
      await relay.stop();
      return relay.counters.ticksPublished as number;
    },
  };
}

function normalizerSession(): Session {
  const factories = [normalizeTrades, normalizeBookTickers] as unknown as MapperFactory<
    Exchange,
    NormalizedData
  >[];
  const mappers = factories.map((f) => f('binance', new Date()));
  let n = 0;
  return {
    async feed(frames) {
      for (const frame of frames) {
        const message: unknown = JSON.parse(frame.text);
        const local = new Date(frame.receivedAt);
        for (const mapper of mappers) {
          if (!mapper.canHandle(message)) continue;
          for (const normalized of mapper.map(message, local) ?? []) if (normalized.type) n++;
        }
      }
    },
    end: async () => n,
  };
}

/** functions/ of `commit`, extracted once under .local/ (inside the repository, so node_modules resolve). */
function baseTree(commit: string): URL {
  const sha = execFileSync('git', ['rev-parse', '--verify', `${commit}^{commit}`], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
  const dir = new URL(`.local/relay-paired/${sha}/`, root);
  if (!existsSync(new URL('functions/', dir))) {
    mkdirSync(dir, { recursive: true });
    const archive = execFileSync('git', ['archive', sha, 'functions'], { cwd: root, maxBuffer: 1 << 28 });
    execFileSync('tar', ['-x', '-C', dir.pathname], { input: archive });
  }
  return new URL('functions/', dir);
}

const cpuMicros = () => {
  const used = process.cpuUsage();
  return used.user + used.system;
};

/** One round: each variant takes every frame, chunk by chunk in rotating order; its CPU µs summed. */
async function round(frames: readonly RecordedFrame[], make: (() => Session)[]): Promise<number[]> {
  const sessions = make.map((f) => f());
  const cpu = sessions.map(() => 0);
  for (let from = 0, k = 0; from < frames.length; from += CHUNK, k++) {
    const part = frames.slice(from, from + CHUNK);
    for (let j = 0; j < sessions.length; j++) {
      const i = (j + k) % sessions.length;
      const before = cpuMicros();
      await sessions[i]!.feed(part);
      cpu[i]! += cpuMicros() - before;
    }
  }
  for (const [i, session] of sessions.entries()) {
    const before = cpuMicros();
    const ticks = await session.end();
    cpu[i]! += cpuMicros() - before;
    if (ticks !== frames.length) throw new Error(`variant ${i} delivered ${ticks} of ${frames.length} ticks`);
  }
  return cpu;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      base: { type: 'string' },
      rounds: { type: 'string', default: '15' },
    },
  });
  const rounds = Number(values.rounds);
  if (values.base === undefined) throw new Error('--base <commit> is required');
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  const frames = recordedFrames(200_000);
  const start = frames[0]!.receivedAt;
  const base = await treeModules(baseTree(values.base).href);
  const head = await treeModules(new URL('functions/', root).href);
  const make = [normalizerSession, () => relaySession(base, start), () => relaySession(head, start)];
  const ratios = { base: [] as number[], head: [] as number[], headOverBase: [] as number[] };
  await round(frames, make); // warm-up, not counted
  for (let r = 0; r < rounds; r++) {
    const [normalizer, baseCpu, headCpu] = await round(frames, make);
    ratios.base.push(normalizer! / baseCpu!);
    ratios.head.push(normalizer! / headCpu!);
    ratios.headOverBase.push(baseCpu! / headCpu!);
  }
  const median = (xs: number[]) => Math.round(1000 * [...xs].sort((a, b) => a - b)[xs.length >> 1]!) / 1000;
  const summary = {
    benchmark: 'relay-paired',
    base: values.base,
    rounds,
    baseVsNormalizer: median(ratios.base),
    headVsNormalizer: median(ratios.head),
    // Above 1: this tree's relay path is faster than the base's (median over rounds of the paired ratio).
    headSpeedOverBase: median(ratios.headOverBase),
    headSpeedOverBaseRounds: [Math.min(...ratios.headOverBase), Math.max(...ratios.headOverBase)].map(
      (x) => Math.round(1000 * x) / 1000,
    ),
  };
  if (!values.json) console.log(`relay hot path, this tree against ${values.base}, ${rounds} rounds`);
  console.log(JSON.stringify(summary));
  return 0;
}
