// Starts and stops Google's Pub/Sub and Firestore emulators on free ports, each JVM in its own process
// group, so that no JVM outlives this process: stop() kills the group, signal and exit handlers stop every
// group still running, and a watchdog kills them even when this process is SIGKILLed.
//
// CLI: `npx tsx scripts/local/emulators.ts [--project=ID] [--pids]` prints one JSON line
// {"pubsub":"127.0.0.1:P","firestore":"127.0.0.1:Q"} when both are ready and runs until SIGINT/SIGTERM.
import type { ChildProcess } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { emulatorLaunchers, saveArchive, type EmulatorKind, type LaunchSpec } from './emulator-launch.ts';
import { freePort } from './free-port.ts';
import {
  groupAlive,
  settleWithin,
  signalGroup,
  spawnGroup,
  spawnWatchdog,
  terminateGroup,
} from './process-group.ts';

export type { EmulatorKind } from './emulator-launch.ts';

/** Project id the tests use against the emulators. */
export const DEFAULT_PROJECT_ID = 'tickstream-test';

export interface StopOptions {
  /** Keep the temp dir with the emulator log (e.g. after a failed test run); its path is in `logPath`. */
  readonly keepLogs?: boolean;
}

/** A running emulator. `stop()` kills its process group, awaits the exit and is safe to call twice. */
export interface RunningEmulator {
  readonly kind: EmulatorKind;
  /** `127.0.0.1:PORT`, the value for PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST. */
  readonly host: string;
  readonly port: number;
  /** Pid of the JVM (or gcloud wrapper), which is also its process group id. */
  readonly pid: number;
  readonly logPath: string;
  /** Milliseconds from the start call to ready. */
  readonly startupMs: number;
  /** `java` (direct from the SDK's platform/ folder) or `gcloud` (the wrapper fallback). */
  readonly launcher: 'java' | 'gcloud';
  stop(options?: StopOptions): Promise<void>;
}

export interface PubSubEmulator extends RunningEmulator {
  readonly kind: 'pubsub';
  readonly projectId: string;
}

export interface FirestoreEmulator extends RunningEmulator {
  readonly kind: 'firestore';
}

export interface Emulators {
  readonly projectId: string;
  readonly pubsub: PubSubEmulator;
  readonly firestore: FirestoreEmulator;
  stop(options?: StopOptions): Promise<void>;
}

export interface StartOptions {
  readonly projectId?: string;
  /** Give up when not ready after this long (default 60 s). */
  readonly startTimeoutMs?: number;
}

/** Start failed; the log is kept at `logPath`. */
export class EmulatorStartError extends Error {
  constructor(
    message: string,
    readonly logPath: string | undefined,
    options?: ErrorOptions,
  ) {
    super(logPath === undefined ? message : `${message} (log: ${logPath})`, options);
    this.name = 'EmulatorStartError';
  }
}

export async function startPubSubEmulator(options: StartOptions = {}): Promise<PubSubEmulator> {
  const projectId = options.projectId ?? DEFAULT_PROJECT_ID;
  const emulator = await startEmulator('pubsub', projectId, options.startTimeoutMs ?? 60_000);
  return { ...emulator, kind: 'pubsub', projectId };
}

export async function startFirestoreEmulator(options: StartOptions = {}): Promise<FirestoreEmulator> {
  const projectId = options.projectId ?? DEFAULT_PROJECT_ID;
  const emulator = await startEmulator('firestore', projectId, options.startTimeoutMs ?? 60_000);
  return { ...emulator, kind: 'firestore' };
}

/** Both emulators, started in parallel; if one fails the other is stopped. */
export async function startEmulators(options: StartOptions = {}): Promise<Emulators> {
  const projectId = options.projectId ?? DEFAULT_PROJECT_ID;
  const [pubsub, firestore] = await Promise.allSettled([
    startPubSubEmulator({ ...options, projectId }),
    startFirestoreEmulator({ ...options, projectId }),
  ]);
  if (pubsub.status === 'rejected' || firestore.status === 'rejected') {
    await Promise.allSettled(
      [pubsub, firestore].map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)),
    );
    throw pubsub.status === 'rejected' ? pubsub.reason : (firestore as PromiseRejectedResult).reason;
  }
  let stopping: Promise<void> | undefined;
  return {
    projectId,
    pubsub: pubsub.value,
    firestore: firestore.value,
    stop(stopOptions) {
      stopping ??= Promise.all([pubsub.value.stop(stopOptions), firestore.value.stop(stopOptions)]).then(
        () => undefined,
      );
      return stopping;
    },
  };
}

/** Environment variables that point the Google clients at `emulators`. */
export function emulatorEnv(emulators: Emulators): Record<string, string> {
  return {
    PUBSUB_EMULATOR_HOST: emulators.pubsub.host,
    FIRESTORE_EMULATOR_HOST: emulators.firestore.host,
    PUBSUB_PROJECT_ID: emulators.projectId,
    GCLOUD_PROJECT: emulators.projectId,
    GOOGLE_CLOUD_PROJECT: emulators.projectId,
    METADATA_SERVER_DETECTION: 'none',
  };
}

// ---- every group this process started, for signal/exit cleanup ----

interface LiveGroup {
  readonly pgid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

const live = new Set<LiveGroup>();
/** Temp dirs of emulators still starting (not yet a tracked group), removed if the process exits. */
const startingDirs = new Set<string>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let handlersInstalled = false;
/** Set by the first signal: emulators still starting give up, none start afterwards. */
let interruptedBy: NodeJS.Signals | undefined;

/** Stops every emulator this process started and has not stopped yet. */
export async function stopAllEmulators(): Promise<void> {
  await Promise.allSettled([...live].map((group) => group.stop()));
}

function track(group: LiveGroup): void {
  live.add(group);
  installHandlers();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.on('exit', onExit);
}

function untrack(group: LiveGroup): void {
  live.delete(group);
  uninstallHandlersWhenIdle();
}

function uninstallHandlersWhenIdle(): void {
  if (live.size > 0 || startingDirs.size > 0 || !handlersInstalled) return;
  handlersInstalled = false;
  for (const signal of SIGNALS) process.off(signal, onSignal);
  process.off('exit', onExit);
}

// Stops the emulators; when nobody else listens for the signal, re-raises it so the process still dies
// from it as it would have without us. A caller with its own handler (the test runner) decides itself.
function onSignal(signal: NodeJS.Signals): void {
  interruptedBy ??= signal;
  const othersListen = process.listenerCount(signal) > 1;
  void stopAllEmulators().finally(() => {
    if (othersListen) return;
    process.off(signal, onSignal);
    process.kill(process.pid, signal);
  });
}

// Last chance on a synchronous exit (process.exit(), an uncaught exception): SIGTERM the groups; the
// watchdogs see us gone and SIGKILL whatever is left.
function onExit(): void {
  const bestEffort = (step: () => unknown): void => {
    try {
      step();
    } catch {
      // nothing more to do while exiting
    }
  };
  for (const dir of startingDirs) bestEffort(() => rmSync(dir, { recursive: true, force: true }));
  for (const group of live) {
    bestEffort(() => signalGroup(group.pgid, 'SIGTERM'));
    bestEffort(() => rmSync(group.dir, { recursive: true, force: true }));
  }
}

// ---- one emulator ----

const READY_MARKERS: Record<EmulatorKind, (port: number) => RegExp> = {
  pubsub: (port) => new RegExp(`Server started, listening on ${port}\\b`),
  firestore: () => /Dev App Server is now running/,
};
const PORT_TAKEN = /BindException|Address already in use/;
const MAX_ATTEMPTS = 5;

type Outcome = 'ready' | 'port-taken' | 'exited' | 'timeout' | 'stopped';

interface Started {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly logPath: string;
  readonly startupMs: number;
  readonly launcher: 'java' | 'gcloud';
  stop(options?: StopOptions): Promise<void>;
}

async function startEmulator(kind: EmulatorKind, projectId: string, timeoutMs: number): Promise<Started> {
  const startedAt = performance.now();
  // Synchronous, so no exit can come between creating the dir and recording it for removal.
  const dir = mkdtempSync(join(tmpdir(), `tickstream-${kind}-`));
  startingDirs.add(dir);
  installHandlers();
  try {
    return await startEmulatorIn(dir, kind, projectId, timeoutMs, startedAt);
  } finally {
    startingDirs.delete(dir);
    uninstallHandlersWhenIdle();
  }
}

async function startEmulatorIn(
  dir: string,
  kind: EmulatorKind,
  projectId: string,
  timeoutMs: number,
  startedAt: number,
): Promise<Started> {
  mkdirSync(join(dir, 'tmp'));
  mkdirSync(join(dir, 'data'));
  const logPath = join(dir, `${kind}.log`);
  const launchers = await emulatorLaunchers(kind, projectId);
  if (launchers.length === 0) {
    await rm(dir, { recursive: true, force: true });
    throw new EmulatorStartError(
      `no ${kind} emulator found: install the gcloud SDK with the ${kind} emulator component (and Java)`,
      undefined,
    );
  }
  let index = 0;
  let lastOutcome = '';
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (interruptedBy !== undefined) {
      await rm(dir, { recursive: true, force: true });
      throw new EmulatorStartError(
        `the ${kind} emulator was not started: ${interruptedBy} received`,
        undefined,
      );
    }
    const launcher = launchers[index]!;
    const port = await freePort();
    const spec = launcher.build(port, dir);
    const logStart = appendLog(logPath, `--- attempt ${attempt}: ${spec.command} ${spec.args.join(' ')}\n`);
    let child: ChildProcess & { pid: number };
    const fd = openSync(logPath, 'a');
    try {
      child = await spawnGroup(spec.command, spec.args, { cwd: dir, env: process.env, logFd: fd });
    } catch (error) {
      appendLog(logPath, `spawn failed: ${String(error)}\n`);
      lastOutcome = `spawn failed: ${String(error)}`;
      if (index + 1 < launchers.length) index++;
      continue;
    } finally {
      closeSync(fd);
    }
    const group = runningGroup(child, dir, spec);
    const outcome = await waitUntilReady(kind, child, port, logPath, logStart, timeoutMs, group.stopped);
    if (outcome === 'ready') {
      return {
        host: `127.0.0.1:${port}`,
        port,
        pid: child.pid,
        logPath,
        startupMs: Math.round(performance.now() - startedAt),
        launcher: launcher.name,
        stop: group.stop,
      };
    }
    if (outcome === 'stopped') {
      // A signal (or stopAllEmulators) came mid-start: make sure it is down and its dir removed.
      await group.stop();
      throw new EmulatorStartError(`the ${kind} emulator was stopped while starting`, undefined);
    }
    await group.stop({ keepLogs: true });
    lastOutcome = outcome;
    if (outcome === 'timeout') break;
    // A taken port: try another. Exited for another reason: try the next launcher, if any.
    if (outcome === 'exited') {
      if (index + 1 >= launchers.length) break;
      index++;
    }
  }
  throw new EmulatorStartError(`the ${kind} emulator did not start (${lastOutcome})`, logPath);
}

/** Registers the group for cleanup and builds its idempotent stop(). */
function runningGroup(
  child: ChildProcess & { pid: number },
  dir: string,
  spec: LaunchSpec,
): { stop(options?: StopOptions): Promise<void>; stopped(): boolean } {
  const pgid = child.pid;
  // Node reaps its child only when it handles the 'exit'; until then the JVM is a zombie that
  // `kill(-pgid, 0)` still finds. stop() awaits this so the group is truly gone when it resolves.
  const reaped =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : once(child, 'exit').then(
          () => undefined,
          () => undefined,
        );
  let watchdog: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (options: StopOptions = {}): Promise<void> => {
    stopping ??= (async () => {
      try {
        // Writing a class-data archive at exit takes a few seconds: allow for it before SIGKILL.
        await terminateGroup(pgid, spec.archiveDump ? 20_000 : 5_000);
        await settleWithin(reaped, 5_000);
        if (spec.archiveDump) await saveArchive(spec.archiveDump);
      } finally {
        untrack(entry);
        watchdog?.kill('SIGKILL');
        if (!options.keepLogs) await rm(dir, { recursive: true, force: true });
      }
    })();
    return stopping;
  };
  const entry: LiveGroup = { pgid, dir, stop: () => stop({ keepLogs: false }) };
  track(entry);
  void spawnWatchdog(pgid, dir).then((spawned) => {
    watchdog = spawned;
    if (stopping !== undefined) spawned?.kill('SIGKILL');
  });
  return { stop, stopped: () => stopping !== undefined || interruptedBy !== undefined };
}

/**
 * Ready means: `GET /` answers `Ok`, our process is alive, and our log says it listens, because a
 * foreign process that grabbed the port after us would answer `Ok` too while our JVM fails to bind
 * (the Pub/Sub emulator then keeps running without a server).
 */
async function waitUntilReady(
  kind: EmulatorKind,
  child: ChildProcess,
  port: number,
  logPath: string,
  logStart: number,
  timeoutMs: number,
  stopped: () => boolean,
): Promise<Outcome> {
  let exited = child.exitCode !== null || child.signalCode !== null;
  child.once('exit', () => (exited = true));
  const marker = READY_MARKERS[kind](port);
  const deadline = Date.now() + timeoutMs;
  let okSince: number | undefined;
  while (Date.now() < deadline) {
    if (stopped()) return 'stopped';
    const log = readLog(logPath, logStart);
    if (PORT_TAKEN.test(log)) return 'port-taken';
    if (exited || !groupAlive(child.pid!)) return 'exited';
    if (await answersOk(port)) {
      if (stopped()) return 'stopped';
      okSince ??= Date.now();
      const ownsPort = marker.test(readLog(logPath, logStart));
      // Unknown emulator versions may print other text: accept a steady Ok without a bind error after 5 s.
      if (ownsPort || Date.now() - okSince > 5_000) return 'ready';
    }
    await sleep(50);
  }
  return 'timeout';
}

function answersOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET', agent: false, timeout: 2_000 });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'Ok'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Appends `text`, returns the log's size before it (where this attempt's output starts). */
function appendLog(path: string, text: string): number {
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    // new log
  }
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return size;
}

function readLog(path: string, from: number): string {
  try {
    return readFileSync(path).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

// ---- CLI ----

async function main(argv: readonly string[]): Promise<void> {
  const projectId = argv.find((arg) => arg.startsWith('--project='))?.slice('--project='.length);
  const withPids = argv.includes('--pids');
  let emulators: Emulators;
  try {
    emulators = await startEmulators(projectId ? { projectId } : {});
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
    return;
  }
  const line: Record<string, unknown> = {
    pubsub: emulators.pubsub.host,
    firestore: emulators.firestore.host,
  };
  if (withPids) line.pids = { pubsub: emulators.pubsub.pid, firestore: emulators.firestore.pid };
  process.stdout.write(`${JSON.stringify(line)}\n`);

  const keepAlive = setInterval(() => undefined, 1 << 30);
  const shutdown = (): void => {
    for (const signal of SIGNALS) process.off(signal, shutdown);
    void emulators.stop().finally(() => clearInterval(keepAlive));
  };
  for (const signal of SIGNALS) process.on(signal, shutdown);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main(process.argv.slice(2));
}
