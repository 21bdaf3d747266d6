// How to launch Google's emulators: straight from the gcloud SDK's platform/ folder with `java`
// (about 1 s to ready with a cached class-data archive), or through `gcloud beta emulators ...`
// (a slow Python wrapper) when the jars or java cannot be found.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

export type EmulatorKind = 'pubsub' | 'firestore';

/** One concrete command line for one port. */
export interface LaunchSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** Class-data archive the JVM writes at exit; `saveArchive` moves it into the cache after a clean stop. */
  readonly archiveDump?: { readonly from: string; readonly to: string };
}

/** A way to start one kind of emulator; `build` makes the command line for a port and work dir. */
export interface Launcher {
  readonly name: 'java' | 'gcloud';
  readonly description: string;
  build(port: number, workDir: string): LaunchSpec;
}

const HOST = '127.0.0.1';
const FIRESTORE_MAIN_CLASS = 'com.google.cloud.datastore.emulator.firestore.CloudFirestore';

/**
 * Launchers to try in order. `TICKSTREAM_EMULATOR_LAUNCH=gcloud` forces the gcloud wrapper,
 * `=java` allows only the direct launch.
 */
export async function emulatorLaunchers(kind: EmulatorKind, projectId: string): Promise<Launcher[]> {
  const mode = process.env.TICKSTREAM_EMULATOR_LAUNCH ?? 'auto';
  const launchers: Launcher[] = [];
  const sdk = await gcloudSdkRoot();
  if (mode !== 'gcloud' && sdk !== undefined) {
    const java = await javaBinary();
    const direct = java === undefined ? undefined : directLauncher(kind, sdk, java);
    if (direct !== undefined) launchers.push(direct);
  }
  const gcloud = findOnPath('gcloud');
  if (mode !== 'java' && gcloud !== undefined) launchers.push(gcloudLauncher(kind, gcloud, projectId));
  return launchers;
}

function directLauncher(kind: EmulatorKind, sdk: string, java: JavaBinary): Launcher | undefined {
  if (kind === 'pubsub') {
    const lib = join(sdk, 'platform', 'pubsub-emulator', 'lib');
    const jar = listDir(lib)
      .filter((name) => /^cloud-pubsub-emulator-.*\.jar$/.test(name))
      .sort()
      .at(-1);
    if (jar === undefined) return undefined;
    const jarPath = join(lib, jar);
    return {
      name: 'java',
      description: `${java.path} -jar ${jarPath}`,
      build: (port, workDir) => {
        const jvm = jvmOptions(kind, java, jarPath, workDir);
        return {
          command: java.path,
          args: [...jvm.flags, '-jar', jarPath, `--host=${HOST}`, `--port=${port}`],
          archiveDump: jvm.archiveDump,
        };
      },
    };
  }
  const folder = join(sdk, 'platform', 'cloud-firestore-emulator');
  const jarPath = join(folder, 'cloud-firestore-emulator.jar');
  if (!isFile(jarPath)) return undefined;
  // The SDK's wrapper script names the main class; read it there so an SDK update cannot silently break us.
  const wrapper = readText(join(folder, 'cloud_firestore_emulator'));
  const mainClass = /-cp\s+"\$\{FIRESTORE_JAR\}"\s+([\w.$]+)/.exec(wrapper)?.[1] ?? FIRESTORE_MAIN_CLASS;
  return {
    name: 'java',
    description: `${java.path} -cp ${jarPath} ${mainClass}`,
    build: (port, workDir) => {
      const jvm = jvmOptions(kind, java, jarPath, workDir);
      return {
        command: java.path,
        args: [
          ...jvm.flags,
          '-Duser.language=en', // as the SDK wrapper does: the emulator only speaks English
          '-cp',
          jarPath,
          mainClass,
          'start',
          `--host=${HOST}`,
          `--port=${port}`,
        ],
        archiveDump: jvm.archiveDump,
      };
    },
  };
}

function gcloudLauncher(kind: EmulatorKind, gcloud: string, projectId: string): Launcher {
  return {
    name: 'gcloud',
    description: `${gcloud} beta emulators ${kind} start`,
    build: (port, workDir) => ({
      command: gcloud,
      args:
        kind === 'pubsub'
          ? [
              'beta',
              'emulators',
              'pubsub',
              'start',
              `--host-port=${HOST}:${port}`,
              `--project=${projectId}`,
              `--data-dir=${join(workDir, 'data')}`,
              '--quiet',
            ]
          : ['beta', 'emulators', 'firestore', 'start', `--host-port=${HOST}:${port}`, '--quiet'],
    }),
  };
}

// ---- JVM options and the class-data sharing (AppCDS) cache ----

interface JavaBinary {
  readonly path: string;
  /** realpath, size and mtime of the binary: part of the archive cache key. */
  readonly identity: string;
}

/**
 * Flags for a fast, small emulator JVM. A dynamic AppCDS archive (classes pre-parsed at a previous exit)
 * roughly halves the time to ready; the JVM validates it against the jar and itself and ignores it with
 * a warning when stale. Without an archive, the JVM writes one at exit, which makes that one stop take
 * 3-7 s longer; CI (`CI=true`, usually a fresh home) only reads an archive and never pays for writing.
 * `TICKSTREAM_JVM_CDS`: `0` off, `read` use only, `write` use or write (the default outside CI).
 * `TICKSTREAM_JVM_CDS_DIR` moves the cache (default ~/.cache/tickstream/jvm-cds);
 * `TICKSTREAM_EMULATOR_JAVA_OPTS` adds JVM flags.
 */
function jvmOptions(
  kind: EmulatorKind,
  java: JavaBinary,
  jarPath: string,
  workDir: string,
): { flags: string[]; archiveDump?: { from: string; to: string } } {
  const flags = [
    '-XX:+UseSerialGC', // one GC thread: the emulators share 2 cores with the tests
    '-XX:TieredStopAtLevel=1', // C1 only: compiles fast, and the emulators are never CPU-bound for long
    '-XX:-UsePerfData', // no hsperfdata file in /tmp
    `-Djava.io.tmpdir=${join(workDir, 'tmp')}`,
  ];
  let archiveDump: { from: string; to: string } | undefined;
  const cacheDir = archiveCacheDir();
  if (cacheDir !== undefined) {
    const jar = statSync(jarPath);
    const key = createHash('sha256')
      .update(JSON.stringify([java.identity, jarPath, jar.size, jar.mtimeMs]))
      .digest('hex')
      .slice(0, 16);
    const archive = join(cacheDir, `${kind}-${key}.jsa`);
    if (isFile(archive)) {
      flags.push(`-XX:SharedArchiveFile=${archive}`);
    } else if (archiveMode() === 'write') {
      const from = join(workDir, `${kind}.jsa`);
      flags.push(`-XX:ArchiveClassesAtExit=${from}`);
      archiveDump = { from, to: archive };
    }
  }
  const extra = process.env.TICKSTREAM_EMULATOR_JAVA_OPTS?.trim();
  if (extra) flags.push(...extra.split(/\s+/));
  return archiveDump === undefined ? { flags } : { flags, archiveDump };
}

function archiveMode(): 'off' | 'read' | 'write' {
  const setting = process.env.TICKSTREAM_JVM_CDS;
  if (setting === '0' || setting === 'off') return 'off';
  if (setting === 'read' || setting === 'write') return setting;
  const ci = process.env.CI;
  return ci && ci !== 'false' && ci !== '0' ? 'read' : 'write';
}

function archiveCacheDir(): string | undefined {
  if (archiveMode() === 'off') return undefined;
  if (process.env.TICKSTREAM_JVM_CDS_DIR) return process.env.TICKSTREAM_JVM_CDS_DIR;
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'tickstream', 'jvm-cds');
}

/**
 * Moves an archive written at JVM exit into the cache. Copy, then rename inside the cache dir, so
 * concurrent runs never see a half-written archive. Best effort: a failure only costs speed.
 */
export async function saveArchive(dump: { from: string; to: string }): Promise<void> {
  try {
    if (!(await stat(dump.from)).isFile()) return;
    await mkdir(dirname(dump.to), { recursive: true });
    const partial = `${dump.to}.${process.pid}.${Date.now()}.partial`;
    await copyFile(dump.from, partial);
    await rename(partial, dump.to).catch(async () => rm(partial, { force: true }));
  } catch {
    // no archive written (JVM killed) or cache dir not writable
  }
}

let javaPromise: Promise<JavaBinary | undefined> | undefined;

/** `$JAVA_HOME/bin/java`, else `java` on PATH. */
export function javaBinary(): Promise<JavaBinary | undefined> {
  javaPromise ??= (async () => {
    const fromHome = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : undefined;
    const path = fromHome !== undefined && isExecutable(fromHome) ? fromHome : findOnPath('java');
    if (path === undefined) return undefined;
    const real = await realpath(path).catch(() => path);
    const info = statSync(real);
    return { path, identity: `${real}:${info.size}:${info.mtimeMs}` };
  })();
  return javaPromise;
}

// ---- gcloud SDK discovery ----

const execFileAsync = promisify(execFile);
let sdkPromise: Promise<string | undefined> | undefined;

/**
 * The gcloud SDK root (the folder holding platform/). Cheap guesses first: `$CLOUDSDK_ROOT_DIR`, then
 * the real path of `gcloud` on PATH (…/google-cloud-sdk/bin/gcloud); only then asks
 * `gcloud info --format=value(installation.sdk_root)`, which costs a Python start.
 */
export function gcloudSdkRoot(): Promise<string | undefined> {
  sdkPromise ??= (async () => {
    const candidates: string[] = [];
    if (process.env.CLOUDSDK_ROOT_DIR) candidates.push(process.env.CLOUDSDK_ROOT_DIR);
    const gcloud = findOnPath('gcloud');
    if (gcloud !== undefined) {
      const real = await realpath(gcloud).catch(() => gcloud);
      candidates.push(resolve(dirname(real), '..'));
    }
    for (const candidate of candidates) if (isDirectory(join(candidate, 'platform'))) return candidate;
    if (gcloud === undefined) return undefined;
    try {
      const { stdout } = await execFileAsync(gcloud, ['info', '--format=value(installation.sdk_root)'], {
        timeout: 30_000,
        env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' },
      });
      const root = stdout.trim();
      return root && isDirectory(join(root, 'platform')) ? root : undefined;
    } catch {
      return undefined;
    }
  })();
  return sdkPromise;
}

/** The first executable `name` on PATH. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
