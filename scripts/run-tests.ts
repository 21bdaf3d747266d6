// `npm test [-- ava args]`: starts ONE Pub/Sub + Firestore emulator pair for the whole run, runs ava
// against it (TAP, streamed), stops the emulators and prints as the last line `N passed, N failed`
// (`, N skipped` when any). Exits non-zero when a test failed, ava crashed or no test ran. Without
// arguments the chaos scenarios run last, in an ava run of their own (RUN_ALONE).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmulatorStartError, emulatorEnv, startEmulators, type Emulators } from './local/emulators.ts';
import { settleWithin, signalGroup, spawnWatchdog } from './local/process-group.ts';
import { formatCounts, TapTally, type TestCounts } from './local/tap-summary.ts';
import { errorMessage } from '../functions/core/shared/errors.ts';

/** Project id every test sees (PUBSUB_PROJECT_ID, GCLOUD_PROJECT). */
const TEST_PROJECT_ID = 'tickstream-test';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AVA_CLI = avaCli();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNAL_EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

function note(message: string): void {
  process.stderr.write(`[run-tests] ${message}\n`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function main(avaArgs: readonly string[]): Promise<number> {
  const runStart = performance.now();
  const counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  let interrupted: NodeJS.Signals | undefined;
  let ava: ChildProcess | undefined;

  // First signal: ask ava to stop (it reports and exits), SIGKILL its group if it has not after 10 s.
  // A second signal kills it at once. The emulator module stops the emulators on the same signal.
  const onSignal = (signal: NodeJS.Signals): void => {
    const avaPid = ava?.exitCode === null ? ava.pid : undefined;
    if (interrupted !== undefined) {
      if (avaPid !== undefined) signalGroup(avaPid, 'SIGKILL');
      return;
    }
    interrupted = signal;
    note(`${signal}: stopping the tests and the emulators`);
    if (avaPid === undefined) return;
    ava?.kill('SIGINT');
    setTimeout(() => {
      if (ava?.exitCode === null) signalGroup(avaPid, 'SIGKILL');
    }, 10_000).unref();
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);

  let emulators: Emulators | undefined;
  const emulatorStart = performance.now();
  let emulatorStartMs = 0;
  try {
    emulators = await startEmulators({ projectId: TEST_PROJECT_ID });
    emulatorStartMs = performance.now() - emulatorStart;
    const { pubsub, firestore } = emulators;
    note(
      `emulators ready in ${seconds(emulatorStartMs)}: Pub/Sub ${pubsub.host} ` +
        `(${seconds(pubsub.startupMs)}), Firestore ${firestore.host} (${seconds(firestore.startupMs)}), ` +
        `launched with ${pubsub.launcher}`,
    );
  } catch (error) {
    note(`the emulators did not start: ${errorMessage(error)}`);
    if (error instanceof EmulatorStartError && error.logPath !== undefined) printLogTail(error.logPath);
    counts.failed = 1;
  }

  let avaMs = 0;
  if (emulators !== undefined && interrupted === undefined) {
    const avaStart = performance.now();
    const env = { ...process.env, ...emulatorEnv(emulators) };
    for (const phase of phases(avaArgs)) {
      if (interrupted !== undefined) break;
      const tally = new TapTally();
      const phaseStart = performance.now();
      const exit = await runAva(phase, env, tally, (child) => (ava = child));
      note(`ava run of ${phase.length} file(s) took ${seconds(performance.now() - phaseStart)}`);
      counts.passed += tally.counts.passed;
      counts.failed += tally.counts.failed;
      counts.skipped += tally.counts.skipped;
      if (exit !== 0 && (tally.counts.failed === 0 || !tally.planSeen)) {
        // ava failed without a failing test line, or crashed before the end of its report (no `1..N`).
        note(
          `ava exited with ${exit} ${tally.planSeen ? 'without a failed test' : 'before finishing its report'}: counted as 1 failure`,
        );
        counts.failed++;
      }
    }
    avaMs = performance.now() - avaStart;
  } else if (interrupted !== undefined && counts.failed === 0) {
    counts.failed = 1;
  }

  if (emulators !== undefined) {
    const stopStart = performance.now();
    const keepLogs = counts.failed > 0 && interrupted === undefined;
    await emulators.stop({ keepLogs });
    note(
      `emulators: start ${seconds(emulatorStartMs)}, stop ${seconds(performance.now() - stopStart)}; ` +
        `ava ${seconds(avaMs)}; total ${seconds(performance.now() - runStart)}`,
    );
    if (keepLogs) note(`emulator logs kept: ${emulators.pubsub.logPath} ${emulators.firestore.logPath}`);
  }

  if (counts.passed === 0 && counts.failed === 0) note('no test ran: that fails the run');
  process.stdout.write(`${formatCounts(counts)}\n`);
  if (interrupted !== undefined) return SIGNAL_EXIT[interrupted] ?? 1;
  return counts.failed > 0 || counts.passed === 0 ? 1 : 0;
}

/**
 * Test files that measure recovery times against bounds (the chaos scenarios): a plain `npm test` runs
 * them after everything else, in a second ava run of their own, so no other test file competes with them
 * for the 2 cores. With arguments, ava runs exactly what was asked, in one run.
 */
const RUN_ALONE = ['test/system/chaos.test.ts'];

function phases(avaArgs: readonly string[]): (readonly string[])[] {
  if (avaArgs.length > 0) return [avaArgs];
  const all = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
    .map((f) => `test/${f.split(sep).join('/')}`)
    .filter((f) => f.endsWith('.test.ts'))
    .sort();
  const alone = RUN_ALONE.filter((f) => all.includes(f));
  return [all.filter((f) => !alone.includes(f)), ...(alone.length > 0 ? [alone] : [])];
}

/** Runs ava with `--tap` using this same node binary, echoes its output and counts the results. */
async function runAva(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  tally: TapTally,
  onSpawn: (child: ChildProcess) => void,
): Promise<number | string> {
  // Own process group, so leftover workers can be killed with ava, and a terminal Ctrl-C reaches ava
  // once, through onSignal.
  const child = spawn(process.execPath, [AVA_CLI, '--tap', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  onSpawn(child);
  // If this runner is SIGKILLed, ava and its workers go too (as the emulators do).
  const watchdog = child.pid === undefined ? undefined : spawnWatchdog(child.pid);
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    process.stdout.write(chunk);
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) tally.add(line);
  });
  const stdoutEnded = once(child.stdout, 'end').catch(() => undefined);
  let result: number | string;
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    result = code ?? signal ?? 'unknown';
  } catch (error) {
    note(`ava did not start: ${String(error)}`);
    return 'spawn error';
  }
  // Kill workers ava left behind; wait briefly for the rest of its output (a process a test spawned with
  // inherited stdio may hold the pipe open forever).
  if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
  (await watchdog)?.kill('SIGKILL');
  await settleWithin(stdoutEnded, 2_000);
  if (pending !== '') {
    process.stdout.write('\n');
    tally.add(pending);
  }
  return result;
}

/** ava's own CLI entry (`bin.ava` of its package.json), run with this node rather than via .bin/ava. */
function avaCli(): string {
  const dir = join(ROOT, 'node_modules', 'ava');
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    bin?: string | { ava?: string };
  };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : (manifest.bin?.ava ?? 'entrypoints/cli.js');
  return join(dir, bin);
}

function printLogTail(logPath: string): void {
  try {
    const lines = readFileSync(logPath, 'utf8').trimEnd().split('\n');
    note(`last lines of ${logPath}:\n${lines.slice(-20).join('\n')}`);
  } catch {
    // the log path is already in the error message
  }
}

process.exitCode = await main(process.argv.slice(2));
