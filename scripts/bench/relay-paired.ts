// `npm run bench -- relay-paired --base <commit> [--json] [--rounds R]`: the relay's hot path of this working
// tree against the same path at <commit>, on the relay benchmark's frames, with tardis-dev's normalizer as
// the common baseline. Each tree's relay runs from its own copy of functions/ (the base's is extracted under
// .local/), so neither shares compiled code or type feedback with the other, and the three variants take
// the frames in alternating chunks, as in `relay` (whose sessions these are). A change worth a percent or
// two is below what two separate `relay` runs can tell apart (docs/PERFORMANCE.md); the paired ratio
// resolves it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  interleavedRound,
  NormalizerSession,
  RecordedRelay,
  recordedFrames,
  RelaySession,
  type RelayModules,
} from './relay.ts';

const CHUNK = 20_000;
const root = new URL('../../', import.meta.url);

/** The modules a relay variant is built from, imported from one tree's functions/. */
async function treeModules(functionsUrl: URL): Promise<RelayModules> {
  const load = (path: string) => import(new URL(path, functionsUrl).href);
  const [service, normalizers, batcher, logger, config] = await Promise.all([
    load('core/relay/relay-service.ts'),
    load('adapters/tardis/normalizers.ts'),
    load('core/relay/batcher.ts'),
    load('core/shared/logger.ts'),
    load('relay/config.ts'),
  ]);
  return {
    RelayService: service.RelayService,
    RawTickNormalizer: normalizers.RawTickNormalizer,
    DEFAULT_BATCH_LIMITS: batcher.DEFAULT_BATCH_LIMITS,
    RELAY_OPTIONS: config.RELAY_OPTIONS,
    silentLogger: logger.silentLogger,
  } as RelayModules;
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
  const trees = {
    base: await treeModules(baseTree(values.base)),
    head: await treeModules(new URL('functions/', root)),
  };
  const names = ['normalizer', 'base', 'head'] as const;
  const open = (name: (typeof names)[number]) =>
    name === 'normalizer'
      ? new NormalizerSession()
      : new RelaySession(new RecordedRelay(start, trees[name]), trees[name]);
  const ratios = { base: [] as number[], head: [] as number[], headOverBase: [] as number[] };
  await interleavedRound(frames, CHUNK, names, open); // warm-up, not counted
  for (let r = 0; r < rounds; r++) {
    const [normalizer, base, head] = await interleavedRound(frames, CHUNK, names, open);
    ratios.base.push(normalizer! / base!);
    ratios.head.push(normalizer! / head!);
    ratios.headOverBase.push(base! / head!);
  }
  const round3 = (x: number) => Math.round(1000 * x) / 1000;
  const median = (xs: number[]) => round3([...xs].sort((a, b) => a - b)[xs.length >> 1]!);
  const summary = {
    benchmark: 'relay-paired',
    base: values.base,
    rounds,
    baseVsNormalizer: median(ratios.base),
    headVsNormalizer: median(ratios.head),
    // Above 1: this tree's relay path is faster than the base's (median over rounds of the paired ratio).
    headSpeedOverBase: median(ratios.headOverBase),
    headSpeedOverBaseRounds: [Math.min(...ratios.headOverBase), Math.max(...ratios.headOverBase)].map(round3),
  };
  if (!values.json) console.log(`relay hot path, this tree against ${values.base}, ${rounds} rounds`);
  console.log(JSON.stringify(summary));
  return 0;
}
