// Running the relay as a child process against the emulators and the exchange simulator, and reading
// what it published. tardis-dev reads WSS_URL_* from process.env at connect time, process-wide, so every
// relay runs in its own process (own process group and watchdog, like scripts/local/service.ts).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import type { ExecutionContext } from 'ava';
import type { Batch, DecodedBatchBody } from '../../functions/core/contract/batch.ts';
import { attributesOf } from '../../functions/core/contract/batch.ts';
import { decodeMessage } from '../../functions/core/contract/decode.ts';
import { SCHEMA_VERSION } from '../../functions/core/contract/wire-layout.ts';
import {
  groupAlive,
  signalGroup,
  spawnGroup,
  spawnWatchdog,
  terminateGroup,
  waitForGroupExit,
} from '../../scripts/local/process-group.ts';
import type { Simulator } from '../../scripts/local/exchange/simulator.ts';
import { logPath, REPO_ROOT } from '../../scripts/local/service.ts';
import { requireEmulators, uniqueName } from './env.ts';

/** A batch pulled from the topic, with its attributes. */
export interface PulledBatch extends DecodedBatchBody {
  readonly attributes: Record<string, string>;
}

/** A relay child process in its own process group (with a watchdog), logging to a file. */
export class RelayProcess {
  private constructor(
    readonly pid: number,
    private readonly exited: Promise<number | null>,
    readonly logPath: string,
  ) {}

  static async spawn(
    nodeArgs: readonly string[],
    env: Record<string, string>,
    path: string,
  ): Promise<RelayProcess> {
    const fd = openSync(path, 'a');
    try {
      const child = await spawnGroup(process.execPath, nodeArgs, {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        logFd: fd,
      });
      const exited = once(child, 'exit').then(([code]) => code as number | null);
      await spawnWatchdog(child.pid);
      return new RelayProcess(child.pid, exited, path);
    } finally {
      closeSync(fd);
    }
  }

  get running(): boolean {
    return groupAlive(this.pid);
  }

  /** SIGTERM and wait for the exit (SIGKILL after `graceMs`); the exit code. */
  async terminate(graceMs = 10_000): Promise<number | null> {
    if (!this.running) return this.exited;
    await terminateGroup(this.pid, graceMs);
    return this.exited;
  }

  /** SIGKILL the group (teardown). */
  async kill(): Promise<void> {
    if (!signalGroup(this.pid, 'SIGKILL')) return;
    await waitForGroupExit(this.pid, 5_000);
  }

  logLines(): string[] {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  tail(lines = 20): string {
    return this.logLines().slice(-lines).join('\n');
  }
}

export interface RelayHandle {
  readonly service: RelayProcess;
  /** Base URL of the health endpoint. */
  healthUrl(): string;
  /** The relay's JSON log lines so far. */
  logs(): Record<string, unknown>[];
  /** GET /healthz or /readyz: status and JSON body. */
  probe(path: '/healthz' | '/readyz'): Promise<{ status: number; body: Record<string, unknown> }>;
}

export interface RelayEnv {
  readonly streams: string;
  readonly topic: string;
  readonly pubsubHost: string;
  readonly firestoreHost: string;
  readonly projectId: string;
  readonly extra?: Readonly<Record<string, string>>;
}

function relayEnv(env: RelayEnv): Record<string, string> {
  return {
    GOOGLE_CLOUD_PROJECT: env.projectId,
    GCLOUD_PROJECT: env.projectId,
    PUBSUB_EMULATOR_HOST: env.pubsubHost,
    FIRESTORE_EMULATOR_HOST: env.firestoreHost,
    METADATA_SERVER_DETECTION: 'none',
    RELAY_STREAMS: env.streams,
    TICKS_TOPIC: env.topic,
    PORT: '0',
    LOG_LEVEL: 'INFO',
    ...env.extra,
  };
}

function parseLines(lines: readonly string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of lines) {
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a non-JSON line (a crash trace) is kept as text
      out.push({ message: line, severity: 'TEXT' });
    }
  }
  return out;
}

/**
 * Compiles functions/ as the Dockerfile does (tsc, no type check: lint does that) into a fresh directory
 * under .local/ (so node_modules resolves) and returns the relay entry point and a cleanup.
 */
export async function compileRelay(): Promise<{ main: string; remove: () => Promise<void> }> {
  mkdirSync(join(REPO_ROOT, '.local'), { recursive: true });
  const dir = mkdtempSync(join(REPO_ROOT, '.local', 'relay-build-'));
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const child = spawn(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--outDir', dir, '--noCheck', '--sourceMap', 'false'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  const remove = () => rm(dir, { recursive: true, force: true });
  if (code !== 0) {
    await remove();
    throw new Error(`tsc failed (${code}): ${output.slice(0, 2000)}`);
  }
  return { main: join(dir, 'functions', 'relay', 'main.js'), remove };
}

/**
 * Starts a relay child process (TypeScript through tsx, or `compiled`: a main.js from compileRelay(),
 * run by plain node as in the container); resolves once it answers /readyz with 200 (every stream
 * subscribed), or, with `waitReady: false`, once it listens.
 */
export async function startRelay(
  name: string,
  env: RelayEnv,
  options: { waitReady?: boolean; workDir?: string; readyTimeoutMs?: number; compiled?: string } = {},
): Promise<RelayHandle> {
  const dir = options.workDir ?? mkdtempSync(join(tmpdir(), 'tickstream-relay-'));
  const nodeArgs = options.compiled ? [options.compiled] : ['--import', 'tsx', 'functions/relay/main.ts'];
  const service = await RelayProcess.spawn(nodeArgs, relayEnv(env), logPath(dir, name));
  let port: number | undefined;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    port ??= portFromLogs(service.logLines());
    if (port !== undefined) {
      if (options.waitReady === false) break;
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })
        .then(async (res) => (await res.arrayBuffer(), res.status === 200))
        .catch(() => false);
      if (ready) break;
    }
    if (!service.running) throw new Error(`${name} exited during start; log: ${service.tail()}`);
    if (Date.now() > deadline) {
      await service.kill();
      throw new Error(`${name} not ready in time; log: ${service.tail()}`);
    }
    await sleep(50);
  }
  const healthUrl = () => `http://127.0.0.1:${port}`;
  return {
    service,
    healthUrl,
    logs: () => parseLines(service.logLines()),
    async probe(path) {
      const res = await fetch(`${healthUrl()}${path}`, { signal: AbortSignal.timeout(2000) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
  };
}

function portFromLogs(lines: readonly string[]): number | undefined {
  for (const line of lines) {
    if (!line.includes('"relay started"')) continue;
    const port = (JSON.parse(line) as { port?: unknown }).port;
    if (typeof port === 'number' && port > 0) return port;
  }
  return undefined;
}

/** Runs the relay until it exits by itself (bad configuration); returns the exit code and its log lines. */
export async function runRelayToExit(
  env: Partial<RelayEnv> & { readonly extra?: Readonly<Record<string, string>> },
  timeoutMs = 60_000,
): Promise<{ code: number | null; logs: Record<string, unknown>[]; output: string }> {
  const full: Record<string, string> = relayEnv({
    streams: env.streams ?? '',
    topic: env.topic ?? 'ticks-unused',
    pubsubHost: env.pubsubHost ?? '127.0.0.1:9',
    firestoreHost: env.firestoreHost ?? '127.0.0.1:9',
    projectId: env.projectId ?? 'tickstream-test',
    extra: env.extra,
  });
  if (env.streams === undefined) delete full.RELAY_STREAMS;
  const child = spawn(process.execPath, ['--import', 'tsx', 'functions/relay/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...full },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, logs: parseLines(output.split('\n').filter(Boolean)), output };
}

/** Pulls every message of a topic through its own subscription, decoding each batch. */
export class BatchCollector {
  readonly batches: PulledBatch[] = [];
  private readonly waiters = new Set<() => void>();
  private constructor(private readonly subscription: Subscription) {}

  /** Creates `topic` (if needed) and a fresh pull subscription on it, and starts collecting. */
  static async start(pubsub: PubSub, topicName: string, subscriptionName: string): Promise<BatchCollector> {
    const topic = pubsub.topic(topicName);
    const [exists] = await topic.exists();
    if (!exists) await topic.create();
    const [subscription] = await topic.createSubscription(subscriptionName, { ackDeadlineSeconds: 60 });
    const collector = new BatchCollector(subscription);
    subscription.on('message', (message: Message) => {
      const decoded = decodeMessage(message.data);
      if (decoded.kind === 'batch') {
        collector.batches.push({ ...decoded.decoded.batch, attributes: { ...message.attributes } });
      } else {
        // A v4 bundle's sections are v3 batches: each gets the attributes it would have had alone.
        for (const { decoded: section } of decoded.sections) {
          if (section instanceof Error) throw section;
          const { batch } = section;
          collector.batches.push({
            ...batch,
            attributes: attributesOf(batch, batch.ticks.length, SCHEMA_VERSION),
          });
        }
      }
      message.ack();
      for (const wake of collector.waiters) wake();
    });
    subscription.on('error', () => undefined);
    return collector;
  }

  /** Batches of one stream, in sequence order, without redelivered duplicates. */
  of(streamIdText: string): PulledBatch[] {
    const seen = new Map<string, PulledBatch>();
    for (const b of this.batches) {
      if (`${b.stream.exchange}:${b.stream.symbol}:${b.stream.type}` !== streamIdText) continue;
      seen.set(b.attributes.batch!, b);
    }
    return [...seen.values()].sort((a, b) => a.relayId.localeCompare(b.relayId) || a.seq - b.seq);
  }

  /** Resolves when `predicate` holds for the collected batches (checked on every message). */
  async until(predicate: (batches: readonly PulledBatch[]) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.batches)) {
      if (Date.now() > deadline) return false;
      // The next message, or a little later (predicates may depend on more than messages).
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, 200);
        this.waiters.add(wake);
      });
    }
    return true;
  }

  /**
   * Resolves when at least `count` distinct batches (by batch id; redeliveries count once) were pulled,
   * e.g. every batch a stopped relay reported as acknowledged.
   */
  untilDistinct(count: number, timeoutMs: number): Promise<boolean> {
    return this.until((all) => new Set(all.map((b) => b.attributes.batch)).size >= count, timeoutMs);
  }

  async stop(): Promise<void> {
    this.subscription.removeAllListeners('message');
    await this.subscription.close().catch(() => undefined);
    await this.subscription.delete().catch(() => undefined);
  }
}

/** Windows of consecutive batches as merged [from, to) intervals (touching windows merge). */
export function mergedWindows(batches: readonly Batch[]): { from: number; to: number }[] {
  const sorted = [...batches].map((b) => b.window).sort((a, b) => a.from - b.from);
  const out: { from: number; to: number }[] = [];
  for (const w of sorted) {
    const last = out.at(-1);
    if (last && w.from <= last.to) last.to = Math.max(last.to, w.to);
    else out.push({ from: w.from, to: w.to });
  }
  return out.filter((w) => w.to > w.from);
}

/** Log lines with this message. */
/**
 * Freezes the market with the sockets open, stops the relay gracefully and waits until every batch it
 * reported as acknowledged was pulled: afterwards the collector holds all the relay received. Returns the
 * relay's shutdown counters.
 */
export async function drainRelay(
  t: ExecutionContext,
  sim: Simulator,
  relay: RelayHandle,
  collector: BatchCollector,
): Promise<Record<string, number>> {
  sim.stall(600_000, 'drop');
  t.is(await relay.service.terminate(), 0, 'graceful exit');
  const stopped = logsWith(relay.logs(), 'relay stopped')[0] as
    | { counters: Record<string, number> }
    | undefined;
  t.truthy(stopped, 'shutdown summary logged');
  t.true(
    await collector.untilDistinct(stopped?.counters.batchesOut ?? Number.POSITIVE_INFINITY, 20_000),
    'every acknowledged batch pulled',
  );
  return stopped?.counters ?? {};
}

export function logsWith(
  logs: readonly Record<string, unknown>[],
  message: string,
): Record<string, unknown>[] {
  return logs.filter((l) => l.message === message);
}

/**
 * A relay on the shared emulators reading the exchange simulator (both exchanges, Binance REST included),
 * publishing into a fresh topic whose batches a pull subscription collects, with fresh Firestore
 * collections. Everything is stopped when the test ends.
 */
export async function relayOnSimulator(
  t: ExecutionContext,
  name: string,
  sim: Simulator,
  streams: string,
  extra: Readonly<Record<string, string>> = {},
): Promise<{ relay: RelayHandle; collector: BatchCollector; pubsub: PubSub }> {
  const emulators = requireEmulators();
  const pubsub = new PubSub({
    projectId: emulators.projectId,
    apiEndpoint: emulators.pubsub,
    emulatorMode: true,
  });
  t.teardown(() => pubsub.close());
  const topic = uniqueName(name.replace(/-/g, '_'));
  const collector = await BatchCollector.start(pubsub, topic, `${topic}_pull`);
  t.teardown(() => collector.stop());
  const relay = await startRelay(name, {
    streams,
    topic,
    pubsubHost: emulators.pubsub,
    firestoreHost: emulators.firestore,
    projectId: emulators.projectId,
    extra: {
      WSS_URL_BINANCE: sim.wsUrl,
      WSS_URL_COINBASE: sim.wsUrls.coinbase,
      REST_URL_BINANCE: sim.restUrl,
      ...sim.relayEnv,
      CHECKPOINTS_COLLECTION: uniqueName('cp'),
      GAPS_COLLECTION: uniqueName('gaps'),
      HEARTBEATS_COLLECTION: uniqueName('hb'),
      ...extra,
    },
  });
  t.teardown(() => relay.service.kill());
  return { relay, collector, pubsub };
}
