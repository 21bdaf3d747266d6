// Debian's Chromium for browser tests: found, installed when missing and allowed (CI runs as root), or a
// clear failure. A browser test never skips silently.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where Debian's `chromium` package puts the browser; CHROMIUM_PATH overrides it. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

export type ChromiumPlan =
  | { readonly action: 'use'; readonly path: string }
  | { readonly action: 'install'; readonly path: string; readonly commands: readonly (readonly string[])[] }
  | { readonly action: 'fail'; readonly message: string };

/** What to do about the browser, from what the machine offers: pure, so each case is tested. */
export function chromiumPlan(facts: {
  readonly path: string;
  readonly exists: boolean;
  /** Whether CHROMIUM_PATH chose the path (then it is never installed over). */
  readonly explicit: boolean;
  readonly root: boolean;
}): ChromiumPlan {
  if (facts.exists) return { action: 'use', path: facts.path };
  if (facts.explicit) {
    return { action: 'fail', message: `CHROMIUM_PATH=${facts.path} does not exist.` };
  }
  if (facts.root) {
    return {
      action: 'install',
      path: facts.path,
      commands: [
        ['apt-get', 'update'],
        ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium'],
      ],
    };
  }
  return {
    action: 'fail',
    message:
      `The browser tests need Debian's Chromium at ${facts.path}, which is missing, and this user is not ` +
      'root, so the test cannot install it. Run `sudo apt-get install -y chromium` (or set CHROMIUM_PATH ' +
      'to a Chromium binary), then run the tests again.',
  };
}

/** The Chromium binary to launch, installing Debian's package first when the plan says so. */
export function ensureChromium(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.CHROMIUM_PATH || DEBIAN_CHROMIUM;
  const plan = chromiumPlan({
    path,
    exists: existsSync(path),
    explicit: !!env.CHROMIUM_PATH,
    root: process.getuid?.() === 0,
  });
  if (plan.action === 'fail') throw new Error(plan.message);
  if (plan.action === 'install') {
    for (const [command, ...args] of plan.commands) {
      const run = spawnSync(command!, args, {
        // apt's progress goes to stderr: a test worker's stdout is not for it.
        stdio: ['ignore', 2, 2],
        env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
        timeout: 600_000,
      });
      if (run.status !== 0) {
        throw new Error(
          `\`${[command, ...args].join(' ')}\` failed (${run.error?.message ?? `exit ${run.status}`}): ` +
            `the browser tests need Debian's chromium package`,
        );
      }
    }
    if (!existsSync(plan.path)) throw new Error(`chromium was installed but ${plan.path} is still missing`);
  }
  return path;
}
