// Process groups for local helpers (emulator JVMs): start a command as the leader of its own group,
// signal and await the whole group, and leave a watchdog behind that kills the group if we die.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpawnGroupOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** File descriptor that receives the child's stdout and stderr. */
  readonly logFd: number;
}

/**
 * Starts `command` detached, as the leader of a new process group (pgid = pid). The child is unref'd:
 * it does not keep this process alive, and the caller owns stopping it.
 */
export async function spawnGroup(
  command: string,
  args: readonly string[],
  options: SpawnGroupOptions,
): Promise<ChildProcess & { pid: number }> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', options.logFd, options.logFd],
    detached: true,
  });
  // 'error' (e.g. ENOENT) rejects; 'spawn' means the pid exists.
  await once(child, 'spawn');
  child.unref();
  if (child.pid === undefined) throw new Error(`spawn of ${command} gave no pid`);
  return child as ChildProcess & { pid: number };
}

/** Sends `signal` to every process in group `pgid`; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * True while group `pgid` has a member that is not a zombie. A zombie holds no memory, port or CPU,
 * but `kill(-pgid, 0)` still finds it; orphans become zombies for good when PID 1 does not reap
 * (as on the CI micro-VMs), so on Linux the group's members are checked in /proc.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return true;
    throw error;
  }
  if (process.platform !== 'linux') return true;
  return liveGroupMembers(pgid).length > 0;
}

/** Pids in group `pgid` that are running (not zombies), read from /proc (Linux only). */
export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, , pgrp] = fields;
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') members.push(Number(entry));
  }
  return members;
}

/** Resolves true once group `pgid` is gone, false if it is still alive after `timeoutMs`. */
export async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
}

/**
 * SIGTERM to the group, then SIGKILL if it is still alive after `graceMs`; resolves once every member
 * has exited and throws if even SIGKILL did not end it.
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  if (await waitForGroupExit(pgid, graceMs)) return;
  signalGroup(pgid, 'SIGKILL');
  if (await waitForGroupExit(pgid, 5_000)) return;
  throw new Error(`process group ${pgid} is still alive after SIGKILL`);
}

// Polls the parent cheaply (kill -0 plus a /proc state read, no fork except sleep). Exits quietly once
// the group is gone, so a later group reusing the pgid is never touched. When the parent disappears:
// SIGTERM to the group, SIGKILL after 5 s, then remove the parent's temp dir for this group.
const WATCHDOG_SCRIPT = `
parent=$1 pgid=$2 dir=$3
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/stat" ] || return 0
  read -r st < "/proc/$1/stat" || return 1
  st=\${st##*") "}
  case $st in Z*|X*) return 1 ;; esac
  return 0
}
while alive "$parent"; do
  kill -0 -"$pgid" 2>/dev/null || exit 0
  sleep 0.5
done
kill -TERM -"$pgid" 2>/dev/null || { [ -n "$dir" ] && rm -rf -- "$dir"; exit 0; }
n=0
while [ $n -lt 20 ] && kill -0 -"$pgid" 2>/dev/null; do sleep 0.25; n=$((n + 1)); done
kill -KILL -"$pgid" 2>/dev/null
[ -n "$dir" ] && rm -rf -- "$dir"
exit 0
`;

/**
 * Starts a tiny detached `sh` that kills group `pgid` when this process disappears, even by SIGKILL,
 * which no handler in this process can catch. Returns undefined when `sh` cannot be started.
 */
export async function spawnWatchdog(pgid: number, removeDir = ''): Promise<ChildProcess | undefined> {
  try {
    const watchdog = spawn(
      '/bin/sh',
      ['-c', WATCHDOG_SCRIPT, 'tickstream-watchdog', String(process.pid), String(pgid), removeDir],
      { stdio: 'ignore', detached: true },
    );
    await once(watchdog, 'spawn');
    watchdog.unref();
    return watchdog;
  } catch {
    return undefined;
  }
}

/**
 * Waits for `promise`, at most `ms`. The timer is cleared as soon as the promise settles, so it neither
 * delays the exit of the process nor, being ref'd, lets the process exit while the wait is pending.
 */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      promise.then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
