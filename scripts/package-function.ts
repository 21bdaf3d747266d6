/**
 * Packages one Cloud Run function (writer, gapfill or compactor) as a source zip for `google_cloudfunctions2_function`:
 * the compiled entry (dist/functions/<name>/index.js) and only the files it imports, plus a package.json
 * whose `main` is that entry and whose dependencies are only the packages that import closure uses, at the
 * exact versions of the root package.json. Each function so deploys its own entry and nothing else.
 *
 *   npx tsc -p tsconfig.build.json
 *   npx tsx scripts/package-function.ts writer [--out dist/packages] [--lockfile]
 *
 * `--lockfile` adds a package-lock.json derived from the root lock (npm prunes it to the function's
 * dependencies and keeps the tested versions), so the function build runs `npm ci` on the same tree.
 * The zip is deterministic (sorted entries, fixed timestamps): the same build gives the same bytes, so
 * Terraform's content-addressed object name changes only when the code does.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import type * as TypeScript from 'typescript';

export const FUNCTIONS = {
  writer: { entry: 'dist/functions/writer/index.js' },
  gapfill: { entry: 'dist/functions/gapfill/index.js' },
  compactor: { entry: 'dist/functions/compactor/index.js' },
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

// Loaded on first use, through require: importing typescript's 9 MB bundle as ESM under tsx takes seconds.
let typescript: typeof TypeScript | undefined;
const ts = (): typeof TypeScript =>
  (typescript ??= createRequire(import.meta.url)('typescript') as typeof TypeScript);

/** Always installed: the Node.js functions buildpack starts the function through it. */
const FRAMEWORK = '@google-cloud/functions-framework';

export class PackageError extends Error {
  override readonly name = 'PackageError';
}

export interface ImportClosure {
  /** Repository-relative POSIX paths of every file reached from the entry, the entry first. */
  readonly files: string[];
  /** npm package names imported by those files (no Node built-ins). */
  readonly packages: string[];
}

/** Follows relative imports (static, re-exports and dynamic with a literal) from `entry` under `root`. */
export function importClosure(root: string, entry: string): ImportClosure {
  const files: string[] = [];
  const packages = new Set<string>();
  const seen = new Set<string>();
  const queue = [posix.normalize(entry)];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const path = join(root, file);
    if (!existsSync(path)) throw new PackageError(`${file} is imported but does not exist (compile first?)`);
    files.push(file);
    const { importedFiles } = ts().preProcessFile(readFileSync(path, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith('.')) {
        queue.push(posix.normalize(posix.join(posix.dirname(file), specifier)));
      } else if (!isBuiltin(specifier)) {
        packages.add(packageName(specifier));
      }
    }
  }
  return { files, packages: [...packages].sort() };
}

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0] as string);
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

interface RootPackage {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  engines?: Record<string, string>;
}

/** The function's package.json: `main` at its entry, only the dependencies its closure imports. */
export function functionManifest(
  rootPackage: RootPackage,
  name: FunctionName,
  packages: readonly string[],
): Record<string, unknown> {
  const available = rootPackage.dependencies ?? {};
  const dependencies: Record<string, string> = {};
  for (const pkg of [...new Set([...packages, FRAMEWORK])].sort()) {
    const version = available[pkg];
    if (!version) {
      throw new PackageError(
        `${name} imports ${pkg}, which is not in the root package.json "dependencies" (dev or transitive only?)`,
      );
    }
    dependencies[pkg] = version;
  }
  return {
    name: `${rootPackage.name}-${name}`,
    version: rootPackage.version,
    private: true,
    type: 'module',
    main: FUNCTIONS[name].entry,
    engines: { node: '22' },
    dependencies,
  };
}

export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
}

/** The package's entries: package.json and the closure's files, sorted by name. */
export function planPackage(root: string, name: FunctionName): ZipEntry[] {
  const closure = importClosure(root, FUNCTIONS[name].entry);
  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as RootPackage;
  const manifest = functionManifest(rootPackage, name, closure.packages);
  const entries: ZipEntry[] = [
    { name: 'package.json', data: Buffer.from(JSON.stringify(manifest, null, 2) + '\n') },
    ...closure.files.map((file) => ({ name: file, data: readFileSync(join(root, file)) })),
  ];
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A package-lock.json for the function's package.json, pruned by npm from the root lock so the
 * function installs exactly the versions the tests ran with. Needs the npm registry for metadata only.
 */
export function deriveLockfile(root: string, manifest: Buffer): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'tickstream-lock-'));
  try {
    writeFileSync(join(dir, 'package.json'), manifest);
    writeFileSync(join(dir, 'package-lock.json'), readFileSync(join(root, 'package-lock.json')));
    execFileSync(
      'npm',
      ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev'],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    return readFileSync(join(dir, 'package-lock.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Zip: stored-or-deflated entries, DOS time 1980-01-01 00:00, no extra fields, UTF-8 names.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/** A deterministic zip archive of `entries` (in the given order). */
export function zip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const deflated = deflateRawSync(entry.data, { level: 9 });
    const useDeflate = deflated.length < entry.data.length;
    const body = useDeflate ? deflated : entry.data;
    const method = useDeflate ? 8 : 0;
    const crc = crc32(entry.data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + body.length;
  }
  const centralSize = centrals.reduce((sum, b) => sum + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

function parseArgs(argv: readonly string[]): { name: FunctionName; out: string; lockfile: boolean } {
  const name = argv.find((a) => !a.startsWith('--'));
  if (!name || !(name in FUNCTIONS)) {
    throw new PackageError(
      `usage: package-function.ts <${Object.keys(FUNCTIONS).join('|')}> [--out DIR] [--lockfile]`,
    );
  }
  const outIndex = argv.indexOf('--out');
  const out = outIndex >= 0 ? argv[outIndex + 1] : 'dist/packages';
  if (!out) throw new PackageError('--out needs a directory');
  return { name: name as FunctionName, out, lockfile: argv.includes('--lockfile') };
}

function main(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const { name, out, lockfile } = parseArgs(process.argv.slice(2));
  const entries = planPackage(root, name);
  if (lockfile) {
    const manifest = entries.find((e) => e.name === 'package.json') as ZipEntry;
    entries.push({ name: 'package-lock.json', data: deriveLockfile(root, manifest.data) });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  const archive = zip(entries);
  const dir = join(root, out);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.zip`);
  writeFileSync(path, archive);
  const md5 = createHash('md5').update(archive).digest('hex');
  console.log(
    JSON.stringify({
      function: name,
      zip: relative(root, path),
      files: entries.length,
      bytes: archive.length,
      md5,
    }),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main();
  } catch (error) {
    if (!(error instanceof PackageError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
}
