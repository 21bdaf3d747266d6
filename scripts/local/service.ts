// A deployable (relay, writer) run as a child process of the local stack, in its own process group with
// a watchdog, so that chaos tests can SIGKILL or SIGTERM it and nothing outlives the stack.
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  groupAlive,
  signalGroup,
  spawnGroup,
  spawnWatchdog,
  terminateGroup,
  waitForGroupExit,
} from './process-group.ts';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');

export interface ServiceSpec {
  readonly name: string;
  /** Arguments after `node --import tsx`. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly logPath: string;
  /** Resolves once the service answers; polled until `readyTimeoutMs`. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs?: number;
}

/** A running deployable; `kill` and `terminate` are the fault injections, `restart` the recovery. */
export class ServiceProcess {
  private pid: number | undefined;
  private exited: Promise<number | null> | undefined;
  private starts = 0;

  constructor(readonly spec: ServiceSpec) {}

  get running(): boolean {
    return this.pid !== undefined && groupAlive(this.pid);
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    const fd = openSync(this.spec.logPath, 'a');
    try {
      const child = await spawnGroup(process.execPath, ['--import', 'tsx', ...this.spec.args], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...this.spec.env },
        logFd: fd,
      });
      this.pid = child.pid;
      this.exited = once(child, 'exit').then(([code]) => code as number | null);
      this.starts++;
      await spawnWatchdog(child.pid);
    } finally {
      closeSync(fd);
    }
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (await this.spec.ready().catch(() => false)) return;
      if (!this.running) throw new Error(`${this.spec.name} exited during start; log: ${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.spec.name} not ready in time; log: ${this.tail()}`);
      await sleep(50);
    }
  }

  /** SIGKILL: the crash fault. Resolves when the process group is gone. */
  async kill(): Promise<void> {
    if (this.pid === undefined) return;
    signalGroup(this.pid, 'SIGKILL');
    await waitForGroupExit(this.pid, 5000);
  }

  /** SIGTERM and wait for a graceful exit (SIGKILL after `graceMs`); returns the exit code. */
  async terminate(graceMs = 10_000): Promise<number | null> {
    if (this.pid === undefined || !this.running) return null;
    await terminateGroup(this.pid, graceMs);
    return (await this.exited) ?? null;
  }

  async restart(): Promise<void> {
    await this.terminate();
    await this.start();
  }

  get startCount(): number {
    return this.starts;
  }

  /** Pid (= process group id) of the current or last started process, for resource sampling. */
  get processId(): number | undefined {
    return this.pid;
  }

  /** The last lines of the service's log, for error messages. */
  tail(lines = 20): string {
    try {
      return readFileSync(this.spec.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  logLines(): string[] {
    try {
      return readFileSync(this.spec.logPath, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }
}

export async function httpOk(
  url: string,
  expect: (status: number) => boolean = (s) => s < 500,
): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await res.arrayBuffer();
  return expect(res.status);
}

export function logPath(dir: string, name: string): string {
  return join(dir, `${name}.log`);
}
