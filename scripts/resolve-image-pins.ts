/**
 * Re-resolves the build's image pins online (image-pins.json) and, with --write, moves every reference
 * (the cloudbuild files' substitutions, the Dockerfile's FROM lines) to the digests the tags point at now.
 *
 *   npx tsx scripts/resolve-image-pins.ts            # print each pin and whether its tag has moved
 *   npx tsx scripts/resolve-image-pins.ts --write    # rewrite image-pins.json and every reference
 *
 * Needs a registry client on PATH: `crane` (go-containerregistry) or, failing that, `docker buildx`.
 * Review the diff like any dependency update: a new digest is new third-party code in the build.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Every file that names a pinned image; the infra supply-chain test checks this list is complete. */
export const PINNED_FILES = ['cloudbuild.ci.yaml', 'cloudbuild.yaml', 'Dockerfile'] as const;
export const PINS_FILE = 'image-pins.json';

export interface Pin {
  image: string;
  digest: string;
  seen: string;
  verified: string | false;
}
export interface PinTable {
  $comment: string;
  images: Record<string, Pin>;
}

export const pinnedRef = (pin: Pin): string => `${pin.image}@${pin.digest}`;

/** The digest a tag points at now, from the registry. */
function resolveDigest(image: string): string {
  const attempts: [string, string[]][] = [
    ['crane', ['digest', image]],
    ['docker', ['buildx', 'imagetools', 'inspect', image, '--format', '{{.Manifest.Digest}}']],
  ];
  const failures: string[] = [];
  for (const [command, args] of attempts) {
    try {
      const digest = execFileSync(command, args, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim();
      if (/^sha256:[0-9a-f]{64}$/.test(digest)) return digest;
      failures.push(`${command}: answered ${JSON.stringify(digest)}`);
    } catch (error) {
      failures.push(`${command}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`cannot resolve ${image}:\n  ${failures.join('\n  ')}`);
}

function main(): void {
  const write = process.argv.includes('--write');
  const table = JSON.parse(readFileSync(join(ROOT, PINS_FILE), 'utf8')) as PinTable;
  const today = new Date().toISOString().slice(0, 10);
  let moved = 0;
  for (const [name, pin] of Object.entries(table.images)) {
    const digest = resolveDigest(pin.image);
    const same = digest === pin.digest;
    console.log(`${name} ${pin.image}: ${same ? 'unchanged' : `${pin.digest} -> ${digest}`}`);
    if (same && pin.verified) continue;
    moved += same ? 0 : 1;
    if (!write) continue;
    const next: Pin = { ...pin, digest, seen: `resolved from the registry on ${today}`, verified: today };
    for (const file of PINNED_FILES) {
      const path = join(ROOT, file);
      writeFileSync(path, readFileSync(path, 'utf8').split(pinnedRef(pin)).join(pinnedRef(next)));
    }
    table.images[name] = next;
  }
  if (write) writeFileSync(join(ROOT, PINS_FILE), JSON.stringify(table, null, 2) + '\n');
  if (!write && moved > 0) {
    console.log(`${moved} tag(s) moved: review, then run with --write`);
    process.exitCode = 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
