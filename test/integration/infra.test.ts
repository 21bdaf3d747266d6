/**
 * Keeps infra/, cloudbuild.yaml and the Dockerfile true to the code, offline: Terraform is parsed with
 * @cdktf/hcl2json (no provider needed) and checked against the code's contracts — each deployable's
 * env options, DEFAULT_TOPOLOGY, TABLES, the IAM allow-list — so a rename or typo fails CI, not a deploy.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { parse as parseHcl } from '@cdktf/hcl2json';
import yaml from 'js-yaml';
import type { Option } from '../../functions/core/shared/config.ts';
import type { Checkpoint } from '../../functions/core/ports.ts';
import {
  dedupViewName,
  TABLES,
  type TableName,
  type TableSchema,
} from '../../functions/core/contract/schema.ts';
import {
  NOTHING_SETTLED,
  settledBeforeOf,
  settledTableName,
} from '../../functions/core/contract/settled-sql.ts';
import { compactedTables } from '../../functions/core/compaction/compact.ts';
import { DEFAULT_COMPACTION_OPTIONS } from '../../functions/core/compaction/plan.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import { DEFAULT_TOPOLOGY, type Topology } from '../../functions/core/contract/topology.ts';
import { generateInfraSchemas, SCHEMA_DIR, infraTables } from '../../scripts/gen-infra-schemas.ts';
import {
  functionManifest,
  FUNCTIONS,
  importClosure,
  PackageError,
  planPackage,
  zip,
} from '../../scripts/package-function.ts';
import { freshness } from '../../scripts/smoke-check.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const INFRA = join(ROOT, 'infra');
const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------------------
// Loading Terraform: the root module and every module it calls, each merged over its .tf files.

type Block = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Mod {
  readonly name: string;
  readonly dir: string;
  readonly hcl: Block;
}
interface Infra {
  readonly root: Mod;
  readonly modules: ReadonlyMap<string, Mod>;
}

function merge(into: Block, from: Block): void {
  for (const [key, value] of Object.entries(from)) {
    if (Array.isArray(value)) into[key] = [...(into[key] ?? []), ...value];
    else if (value && typeof value === 'object') merge((into[key] ??= {}), value);
    else into[key] = value;
  }
}

async function loadDir(name: string, dir: string): Promise<Mod> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.tf'))
    .sort();
  const parsed = await Promise.all(
    files.map((file) => parseHcl(file, readFileSync(join(dir, file), 'utf8'))),
  );
  const hcl: Block = {};
  for (const one of parsed) merge(hcl, one);
  return { name, dir, hcl };
}

let loaded: Promise<Infra> | undefined;
function infra(): Promise<Infra> {
  loaded ??= (async () => {
    const root = await loadDir('root', INFRA);
    const calls = Object.entries(root.hcl.module ?? {}) as [string, Block[]][];
    const loadedModules = await Promise.all(
      calls.map(([name, [call]]) => loadDir(name, join(INFRA, call!.source))),
    );
    return { root, modules: new Map(loadedModules.map((m) => [m.name, m])) };
  })();
  return loaded;
}

function mod(inf: Infra, name: string): Mod {
  const found = name === 'root' ? inf.root : inf.modules.get(name);
  if (!found) throw new Error(`no module "${name}" in infra/main.tf`);
  return found;
}

function resource(m: Mod, type: string, name: string): Block {
  const block = m.hcl.resource?.[type]?.[name]?.[0];
  if (!block) throw new Error(`no ${type}.${name} in ${m.dir}`);
  return block;
}

function resources(m: Mod): { type: string; name: string; block: Block }[] {
  const out: { type: string; name: string; block: Block }[] = [];
  for (const [type, byName] of Object.entries(m.hcl.resource ?? {}) as [string, Record<string, Block[]>][]) {
    for (const [name, blocks] of Object.entries(byName)) out.push({ type, name, block: blocks[0]! });
  }
  return out;
}

function allMods(inf: Infra): Mod[] {
  return [inf.root, ...inf.modules.values()];
}

/** What an expression stands for, following var -> module argument -> local/module output -> resource. */
type Resolved =
  | { kind: 'literal'; value: unknown }
  | { kind: 'resource'; module: string; type: string; name: string }
  | { kind: 'variable'; name: string }
  | { kind: 'opaque'; module: string; expr: string };

function resolve(inf: Infra, modName: string, value: unknown): Resolved {
  if (typeof value !== 'string') return { kind: 'literal', value };
  const whole = /^\$\{([^{}]+)\}$/.exec(value);
  if (!whole)
    return value.includes('${')
      ? { kind: 'opaque', module: modName, expr: value }
      : { kind: 'literal', value };
  const path = whole[1]!.trim().split('.');
  const m = mod(inf, modName);
  switch (path[0]) {
    case 'var': {
      if (modName === 'root') return { kind: 'variable', name: path[1]! };
      const argument = inf.root.hcl.module[modName][0][path[1]!];
      if (argument === undefined) return { kind: 'opaque', module: modName, expr: value };
      return resolve(inf, 'root', argument);
    }
    case 'local': {
      let node: unknown = Object.assign({}, ...(m.hcl.locals ?? []));
      for (const key of path.slice(1)) node = (node as Record<string, unknown> | undefined)?.[key];
      return node === undefined
        ? { kind: 'opaque', module: modName, expr: value }
        : resolve(inf, modName, node);
    }
    case 'module': {
      const output = mod(inf, path[1]!).hcl.output?.[path[2]!]?.[0];
      return output ? resolve(inf, path[1]!, output.value) : { kind: 'opaque', module: modName, expr: value };
    }
    default: {
      const [type, name, attribute] = path as [string, string, string | undefined];
      const block = m.hcl.resource?.[type]?.[name]?.[0];
      if (block && attribute && attribute in block) return resolve(inf, modName, block[attribute]);
      if (block) return { kind: 'resource', module: modName, type, name };
      return { kind: 'opaque', module: modName, expr: value };
    }
  }
}

function literal(inf: Infra, modName: string, value: unknown): unknown {
  const r = resolve(inf, modName, value);
  if (r.kind !== 'literal')
    throw new Error(`${JSON.stringify(value)} in ${modName} is not a literal (${r.kind})`);
  return r.value;
}

/** The service account resource (in modules/iam) an expression designates, by resource name. */
function serviceAccount(inf: Infra, modName: string, value: unknown): string {
  const r = resolve(inf, modName, value);
  if (r.kind !== 'resource' || r.type !== 'google_service_account') {
    throw new Error(
      `${JSON.stringify(value)} in ${modName} is not a google_service_account (${JSON.stringify(r)})`,
    );
  }
  return r.name;
}

// ---------------------------------------------------------------------------------------------------------
// The deployables and their config modules.

type Options = Record<string, Option<unknown>>;
interface Deployable {
  readonly module: string;
  readonly type: 'google_cloud_run_v2_service' | 'google_cloudfunctions2_function';
  readonly resource: string;
  readonly config: string;
  readonly exportName: string;
}
const DEPLOYABLES: Record<'relay' | 'writer' | 'gapfill' | 'compactor', Deployable> = {
  relay: {
    module: 'relay',
    type: 'google_cloud_run_v2_service',
    resource: 'relay',
    config: 'functions/relay/config.ts',
    exportName: 'RELAY_OPTIONS',
  },
  writer: {
    module: 'writer',
    type: 'google_cloudfunctions2_function',
    resource: 'writer',
    config: 'functions/writer/config.ts',
    exportName: 'WRITER_OPTIONS',
  },
  gapfill: {
    module: 'gapfill',
    type: 'google_cloudfunctions2_function',
    resource: 'gapfill',
    config: 'functions/gapfill/config.ts',
    exportName: 'GAPFILL_OPTIONS',
  },
  compactor: {
    module: 'compactor',
    type: 'google_cloudfunctions2_function',
    resource: 'compactor',
    config: 'functions/compactor/config.ts',
    exportName: 'COMPACTOR_OPTIONS',
  },
};

/** The deployable's options, or undefined while its config module does not exist yet. */
async function optionsOf(d: Deployable): Promise<Options | undefined> {
  const path = join(ROOT, d.config);
  if (!existsSync(path)) return undefined;
  const loadedModule = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const options = loadedModule[d.exportName] as Options | undefined;
  if (!options) throw new Error(`${d.config} does not export ${d.exportName}`);
  return options;
}

/** Env vars Terraform sets for the deployable: name -> value expression (secrets as {secret}). */
function envOf(inf: Infra, d: Deployable): Map<string, unknown> {
  const block = resource(mod(inf, d.module), d.type, d.resource);
  const env = new Map<string, unknown>();
  if (d.type === 'google_cloud_run_v2_service') {
    for (const container of block.template[0].containers) {
      for (const e of container.env ?? []) env.set(e.name, e.value ?? { secret: e.value_source });
    }
  } else {
    const service = block.service_config[0];
    for (const [name, value] of Object.entries(service.environment_variables ?? {})) env.set(name, value);
    for (const s of service.secret_environment_variables ?? []) env.set(s.key, { secret: s.secret });
  }
  return env;
}

const TOPOLOGY_ENV: Record<string, keyof Topology> = {
  TICKS_TOPIC: 'topic',
  BIGQUERY_DATASET: 'dataset',
  CHECKPOINTS_COLLECTION: 'checkpoints',
  GAPS_COLLECTION: 'gaps',
  LEASES_COLLECTION: 'leases',
  HEARTBEATS_COLLECTION: 'heartbeats',
};

/** The writer's deterministic URL, as infra/main.tf builds it. */
const WRITER_URL =
  'https://${local.services.writer}-${data.google_project.this.number}.${var.region}.run.app';

/** Every .tf file under `dir`. */
function tfFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.tf'))
    .map((f) => join(dir, f));
}

const camel = (snake: string) => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

// ---------------------------------------------------------------------------------------------------------
// Terraform: format, versions, variables.

test('terraform fmt finds nothing to rewrite under infra', async (t) => {
  try {
    await run('terraform', ['fmt', '-check', '-recursive', '-diff', 'infra'], { cwd: ROOT });
    t.pass();
  } catch (error) {
    const e = error as { stdout?: string; message: string };
    t.fail(
      `terraform fmt -check -recursive infra failed (run terraform fmt -recursive infra):\n${e.stdout ?? e.message}`,
    );
  }
});

test('the google provider is pinned to one exact version and modules do not pin another', async (t) => {
  const inf = await infra();
  const [root] = inf.root.hcl.terraform as Block[];
  t.regex(root!.required_version, /^>=\s*1\.([5-9]|\d{2,})/);
  t.regex(root!.required_providers[0].google.version, /^=\s*\d+\.\d+\.\d+$/);
  t.is(root!.required_providers[0].google.source, 'hashicorp/google');
  for (const m of inf.modules.values()) {
    for (const block of (m.hcl.terraform ?? []) as Block[]) {
      for (const providers of block.required_providers ?? []) {
        t.is(providers.google?.version, undefined, `${m.name} must take the provider version from the root`);
      }
    }
  }
});

test('the root module takes the agreed variables and gives the useful outputs', async (t) => {
  const { root } = await infra();
  for (const name of [
    'project_id',
    'region',
    'relay_streams',
    'relay_image_digest',
    'tardis_api_endpoint',
    'notification_channels',
  ]) {
    t.truthy(root.hcl.variable?.[name], `variable ${name}`);
  }
  for (const name of [
    'writer_url',
    'relay_url',
    'gapfill_url',
    'compactor_url',
    'topic',
    'dataset',
    'scheduler_job',
    'compactor_scheduler_job',
  ]) {
    t.truthy(root.hcl.output?.[name], `output ${name}`);
  }
});

test('the example streams in tfvars and cloudbuild.yaml parse with the relay parser', (t) => {
  const tfvars = readFileSync(join(INFRA, 'terraform.tfvars.example'), 'utf8');
  const fromTfvars = /^relay_streams\s*=\s*"([^"]+)"/m.exec(tfvars)?.[1];
  t.truthy(fromTfvars);
  t.true(parseStreamsConfig(fromTfvars!).length > 0);
  t.true(parseStreamsConfig(cloudbuild().substitutions._RELAY_STREAMS ?? '').length > 0);
});

// ---------------------------------------------------------------------------------------------------------
// Environment variables: what each deployable reads is what Terraform sets.

test('every env var a deployable requires is set by its Terraform', async (t) => {
  const inf = await infra();
  let checked = 0;
  for (const [name, d] of Object.entries(DEPLOYABLES)) {
    const options = await optionsOf(d);
    if (!options) {
      t.log(`${name}: ${d.config} does not exist yet; its env is checked once it does`);
      continue;
    }
    const set = envOf(inf, d);
    const required = Object.values(options)
      .filter((o) => !('default' in o))
      .map((o) => o.env);
    const missing = required.filter((env) => !set.has(env));
    t.deepEqual(
      missing,
      [],
      `${name} requires ${missing.join(', ')} but infra/modules/${d.module} does not set it`,
    );
    checked++;
  }
  t.true(checked >= 2, 'at least the relay and the writer are checked');
});

test('every env var Terraform sets is one the deployable reads', async (t) => {
  const inf = await infra();
  for (const [name, d] of Object.entries(DEPLOYABLES)) {
    const options = await optionsOf(d);
    if (!options) continue;
    const read = new Set(Object.values(options).map((o) => o.env));
    const unknown = [...envOf(inf, d).keys()].filter((env) => !read.has(env));
    t.deepEqual(
      unknown,
      [],
      `${name} does not read ${unknown.join(', ')} (typo, or an option missing in ${d.config})`,
    );
  }
});

test('the gap-filler gets the agreed env vars and the Tardis key from Secret Manager', async (t) => {
  const inf = await infra();
  const env = envOf(inf, DEPLOYABLES.gapfill);
  t.deepEqual([...env.keys()].sort(), [
    'BIGQUERY_DATASET',
    'CHECKPOINTS_COLLECTION',
    'GAPFILL_DETECTION',
    'GAPS_COLLECTION',
    'GOOGLE_CLOUD_PROJECT',
    'LEASES_COLLECTION',
    'LOG_LEVEL',
    'RELAY_STREAMS',
    'TARDIS_API_ENDPOINT',
    'TARDIS_API_KEY',
  ]);
  const key = env.get('TARDIS_API_KEY') as { secret?: unknown };
  const gapfill = resource(mod(inf, 'gapfill'), 'google_cloudfunctions2_function', 'gapfill');
  const secretEnv = gapfill.service_config[0].secret_environment_variables[0];
  t.deepEqual(resolve(inf, 'gapfill', secretEnv.version), {
    kind: 'variable',
    name: 'tardis_api_key_version',
  });
  t.truthy(key.secret, 'TARDIS_API_KEY comes from a secret, not a plain value');
  t.deepEqual(resolve(inf, 'gapfill', key.secret), {
    kind: 'literal',
    value: literal(
      inf,
      'secrets',
      resource(mod(inf, 'secrets'), 'google_secret_manager_secret', 'tardis_api_key').secret_id,
    ),
  });
});

test('the Tardis key is read at a pinned version number that the build must pass, never latest', async (t) => {
  const inf = await infra();
  const variable = inf.root.hcl.variable.tardis_api_key_version[0];
  t.false('default' in variable, 'no default: every apply names the version');
  const condition = String(variable.validation[0].condition);
  const pattern = /regex\("([^"]+)"/.exec(condition)?.[1]?.replace(/\\\\/g, '\\');
  t.truthy(pattern, condition);
  const accepts = (v: string) => new RegExp(pattern!).test(v);
  t.true(accepts('1') && accepts('12'));
  t.false(accepts('latest') || accepts('0') || accepts(''));
  for (const file of tfFiles(INFRA)) {
    t.notRegex(readFileSync(file, 'utf8'), /version\s*=\s*"latest"/, `${file} reads a secret at latest`);
  }
  t.true(cloudbuild().options?.env?.includes('TF_VAR_tardis_api_key_version=${_TARDIS_API_KEY_VERSION}'));
});

test('env vars that name a resource resolve to the topology names', async (t) => {
  const inf = await infra();
  for (const [name, d] of Object.entries(DEPLOYABLES)) {
    for (const [env, value] of envOf(inf, d)) {
      const key = TOPOLOGY_ENV[env];
      if (!key) continue;
      t.is(literal(inf, d.module, value), DEFAULT_TOPOLOGY[key], `${name} ${env}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------------------
// Names: DEFAULT_TOPOLOGY and TABLES.

test('the Terraform topology equals DEFAULT_TOPOLOGY', async (t) => {
  const { root } = await infra();
  const topology = Object.assign({}, ...(root.hcl.locals ?? [])).topology as Record<string, string>;
  t.deepEqual(Object.fromEntries(Object.entries(topology).map(([k, v]) => [camel(k), v])), {
    ...DEFAULT_TOPOLOGY,
  });
});

test('the topic, push subscription and dead-letter pair carry the topology names', async (t) => {
  const inf = await infra();
  const pubsub = mod(inf, 'pubsub');
  const topic = resource(pubsub, 'google_pubsub_topic', 'ticks');
  const deadLetter = resource(pubsub, 'google_pubsub_topic', 'dead_letter');
  const push = resource(pubsub, 'google_pubsub_subscription', 'writer_push');
  const hold = resource(pubsub, 'google_pubsub_subscription', 'dead_letter_hold');
  t.is(literal(inf, 'pubsub', topic.name), DEFAULT_TOPOLOGY.topic);
  t.is(literal(inf, 'pubsub', deadLetter.name), DEFAULT_TOPOLOGY.deadLetterTopic);
  t.is(literal(inf, 'pubsub', push.name), DEFAULT_TOPOLOGY.pushSubscription);
  t.is(literal(inf, 'pubsub', hold.name), DEFAULT_TOPOLOGY.deadLetterSubscription);
  t.like(resolve(inf, 'pubsub', push.topic), {
    kind: 'resource',
    type: 'google_pubsub_topic',
    name: 'ticks',
  });
  t.like(resolve(inf, 'pubsub', hold.topic), {
    kind: 'resource',
    type: 'google_pubsub_topic',
    name: 'dead_letter',
  });
});

test('the generated schema files equal what the code generates', async (t) => {
  const wanted = await generateInfraSchemas();
  const present = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'));
  t.deepEqual(present.sort(), [...wanted.keys()].sort(), 'run npx tsx scripts/gen-infra-schemas.ts');
  for (const [name, content] of wanted) {
    t.is(
      readFileSync(join(SCHEMA_DIR, name), 'utf8'),
      content,
      `${name} drifted: run npx tsx scripts/gen-infra-schemas.ts`,
    );
  }
});

test('the dataset, tables and dedup views match TABLES and the topology', async (t) => {
  const inf = await infra();
  const bq = mod(inf, 'bigquery');
  t.is(
    literal(inf, 'bigquery', resource(bq, 'google_bigquery_dataset', 'this').dataset_id),
    DEFAULT_TOPOLOGY.dataset,
  );

  const catalogue = JSON.parse(readFileSync(join(SCHEMA_DIR, 'tables.json'), 'utf8')) as Record<
    string,
    Block
  >;
  t.deepEqual(
    Object.keys(catalogue).sort(),
    infraTables()
      .map((x) => x.name)
      .sort(),
  );
  for (const name of Object.keys(TABLES) as TableName[]) {
    const table: TableSchema = TABLES[name];
    t.truthy(catalogue[name], `table ${name}`);
    t.is(
      catalogue[name]!.dedupView?.name,
      table.dedupKey ? dedupViewName(name) : undefined,
      `${name} dedup view`,
    );
    t.is(catalogue[name]!.timePartitioning?.field, table.partitionField, `${name} partitioning`);
    t.deepEqual(catalogue[name]!.clustering?.fields, table.clustering ? [...table.clustering] : undefined);
  }

  const tables = resource(bq, 'google_bigquery_table', 'table');
  t.is(tables.for_each, '${local.catalogue}');
  t.is(tables.table_id, '${each.key}');
  t.regex(tables.schema, /schemas\/\$\{each\.key\}\.json/);
  t.true(tables.deletion_protection);
  const views = resource(bq, 'google_bigquery_table', 'dedup_view');
  t.is(views.for_each, '${local.dedup_views}');
  t.is(views.table_id, '${each.key}');
  t.false(views.view[0].use_legacy_sql);
  // The compactor publishes the boundary of these views' SQL; Terraform only creates them.
  for (const name of Object.keys(TABLES) as TableName[]) {
    t.is(
      catalogue[name]!.dedupView?.compacted,
      (TABLES[name] as TableSchema).settled ? true : undefined,
      `${name} compacted`,
    );
  }
  const compacted = resource(bq, 'google_bigquery_table', 'compacted_view');
  t.is(compacted.for_each, '${local.compacted_views}');
  t.deepEqual(compacted.lifecycle[0].ignore_changes, ['${view}']);
});

test('the gaps table has the agreed schema', (t) => {
  const fields = JSON.parse(readFileSync(join(SCHEMA_DIR, 'gaps.json'), 'utf8')) as {
    name: string;
    type: string;
  }[];
  t.deepEqual(
    fields.map((f) => `${f.name} ${f.type}`),
    [
      'gap_id STRING',
      'exchange STRING',
      'symbol STRING',
      'data_type STRING',
      'gap_from TIMESTAMP',
      'gap_to TIMESTAMP',
      'detected_by STRING',
      'state STRING',
      'attempts INT64',
      'rows_backfilled INT64',
      'reason STRING',
      'updated_at TIMESTAMP',
      'fillable_at TIMESTAMP',
      'filled_at TIMESTAMP',
    ],
  );
});

// ---------------------------------------------------------------------------------------------------------
// IAM: every grant is in the allow-list and every allow-listed grant exists.

interface Grant {
  role: string;
  on: string;
  reason?: string;
}
const IAM_TARGET: Record<string, string> = {
  pubsub_topic: 'topic',
  pubsub_subscription: 'subscription',
  bigquery_dataset: 'dataset_id',
  secret_manager_secret: 'secret_id',
  cloud_run_v2_service: 'name',
  storage_bucket: 'bucket',
  artifact_registry_repository: 'repository',
  bigquery_table: 'table_id',
};

/**
 * The roles one grant block makes: its `role`, or one per element of `for_each = toset(local.X)` with
 * `role = each.value`. A custom role of modules/iam is named `custom/<role_id>`, as in the allow-list.
 */
function rolesOf(m: Mod, block: Block, where: string, problems: string[]): string[] {
  const custom = /^\$\{google_project_iam_custom_role\.(\w+)\.(?:name|id)\}$/.exec(String(block.role));
  if (custom) {
    const roleId = m.hcl.resource?.google_project_iam_custom_role?.[custom[1]!]?.[0]?.role_id;
    if (typeof roleId !== 'string') problems.push(`${where}: no custom role ${custom[1]} in ${m.name}`);
    return [`custom/${roleId}`];
  }
  if (block.for_each === undefined) return [String(block.role)];
  const list = /^\$\{toset\(local\.(\w+)\)\}$/.exec(String(block.for_each))?.[1];
  const roles = list ? Object.assign({}, ...(m.hcl.locals ?? []))[list] : undefined;
  if (!Array.isArray(roles) || block.role !== '${each.value}') {
    problems.push(`${where}: for_each must be toset(local.<literal list of roles>) with role = each.value`);
    return [];
  }
  return roles.map(String);
}

function grantsInHcl(inf: Infra): { byIdentity: Map<string, Grant[]>; problems: string[] } {
  const byIdentity = new Map<string, Grant[]>();
  const problems: string[] = [];
  for (const m of allMods(inf)) {
    for (const { type, name, block } of resources(m)) {
      const iam = /^google_(.+)_iam_(member|binding|policy)$/.exec(type);
      if (!iam) continue;
      const where = `${m.name}: ${type}.${name}`;
      if (m.name !== 'iam') problems.push(`${where} is outside modules/iam`);
      if (iam[2] !== 'member') problems.push(`${where}: only additive *_iam_member grants are allowed`);
      const kind = iam[1]!;
      let on = 'project';
      if (kind !== 'project') {
        const target = IAM_TARGET[kind];
        // One grant per element of a list input: for_each = toset(var.X), the target each.value.
        const eachOf = /^\$\{toset\(var\.(\w+)\)\}$/.exec(String(block.for_each ?? ''))?.[1];
        const expr = target ? String(block[target] ?? '') : '';
        const variable =
          /^\$\{var\.(\w+)\}$/.exec(expr)?.[1] ?? (expr === '${each.value}' ? eachOf : undefined);
        if (!variable) problems.push(`${where}: target must be a modules/iam input (var.*)`);
        on = `${kind}/${variable}`;
      }
      const member = String(block.member);
      const identity = /gcp-sa-pubsub\.iam\.gserviceaccount\.com/.test(
        String(literalOrExpr(inf, m.name, block.member)),
      )
        ? 'pubsub_service_agent'
        : /^serviceAccount:\$\{google_service_account\.(\w+)\.email\}$/.exec(member)?.[1];
      if (!identity) {
        problems.push(
          `${where}: member ${member} is neither one of our service accounts nor the Pub/Sub agent`,
        );
        continue;
      }
      const grants = rolesOf(m, block, where, problems).map((role) => ({ role, on }));
      byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), ...grants]);
    }
  }
  return { byIdentity, problems };
}

function literalOrExpr(inf: Infra, modName: string, value: unknown): unknown {
  const r = resolve(inf, modName, value);
  return r.kind === 'literal' ? r.value : r.kind === 'opaque' ? r.expr : JSON.stringify(r);
}

const sortGrants = (grants: Grant[]) => grants.map((g) => `${g.role} on ${g.on}`).sort();

test('each service account holds exactly the roles in the allow-list', async (t) => {
  const inf = await infra();
  const allow = JSON.parse(readFileSync(join(INFRA, 'iam-allowlist.json'), 'utf8')) as {
    identities: Record<string, Grant[]>;
  };
  const { byIdentity, problems } = grantsInHcl(inf);
  t.deepEqual(problems, []);
  const identities = new Set([...Object.keys(allow.identities), ...byIdentity.keys()]);
  for (const identity of identities) {
    t.deepEqual(
      sortGrants(byIdentity.get(identity) ?? []),
      sortGrants(allow.identities[identity] ?? []),
      `grants of ${identity} (infra/modules/iam vs infra/iam-allowlist.json)`,
    );
  }
  const accounts = Object.keys(mod(inf, 'iam').hcl.resource.google_service_account).sort();
  t.deepEqual(
    accounts,
    Object.keys(allow.identities)
      .filter((i) => i !== 'pubsub_service_agent')
      .sort(),
    'every service account is in the allow-list and vice versa',
  );
});

interface AllowList {
  customRoles: Record<string, Record<string, string>>;
  identities: Record<string, Grant[]>;
}
const allowList = (): AllowList =>
  JSON.parse(readFileSync(join(INFRA, 'iam-allowlist.json'), 'utf8')) as AllowList;

test('every allow-listed grant and custom-role permission says why it is needed', (t) => {
  const allow = allowList();
  for (const [identity, grants] of Object.entries(allow.identities)) {
    for (const g of grants) {
      t.true((g.reason ?? '').trim().length >= 20, `${identity}: ${g.role} on ${g.on} needs a reason`);
    }
  }
  for (const [role, permissions] of Object.entries(allow.customRoles)) {
    t.true(Object.keys(permissions).length > 0, `${role} lists its permissions`);
    for (const [permission, reason] of Object.entries(permissions)) {
      t.true(reason.trim().length >= 20, `${role}: ${permission} needs a reason`);
    }
  }
});

test('the custom roles hold exactly the allow-listed permissions, and every one is granted', async (t) => {
  const inf = await infra();
  const allow = allowList();
  const roles = (mod(inf, 'iam').hcl.resource.google_project_iam_custom_role ?? {}) as Record<
    string,
    Block[]
  >;
  const inHcl = Object.fromEntries(
    Object.values(roles).map(([r]) => [r!.role_id as string, [...(r!.permissions as string[])].sort()]),
  );
  const listed = Object.fromEntries(
    Object.entries(allow.customRoles).map(([id, permissions]) => [id, Object.keys(permissions).sort()]),
  );
  t.deepEqual(inHcl, listed, 'modules/iam/roles.tf vs customRoles of infra/iam-allowlist.json');
  const granted = new Set(
    Object.values(allow.identities)
      .flat()
      .map((g) => g.role),
  );
  for (const id of Object.keys(listed)) t.true(granted.has(`custom/${id}`), `custom role ${id} is granted`);
});

const PRIMITIVE = /^roles\/(owner|editor|viewer)$/;

test('no identity holds a primitive role', async (t) => {
  const { byIdentity } = grantsInHcl(await infra());
  const grants = [...Object.values(allowList().identities).flat(), ...[...byIdentity.values()].flat()];
  t.true(grants.length > 20);
  t.deepEqual(
    grants.filter((g) => PRIMITIVE.test(g.role)).map((g) => `${g.role} on ${g.on}`),
    [],
  );
});

test('the writer and gap-filler can insert and query but never create, alter or drop a table', async (t) => {
  const { byIdentity } = grantsInHcl(await infra());
  const allow = allowList();
  for (const identity of ['writer', 'gapfill']) {
    const grants = byIdentity.get(identity) ?? [];
    const bigquery = grants.filter((g) => /bigquery/.test(g.on) || /bigquery|custom\//.test(g.role));
    t.true(bigquery.length > 0, `${identity} has BigQuery access`);
    for (const g of bigquery) {
      t.regex(
        g.role,
        /^custom\//,
        `${identity}: ${g.role} must be one of our custom roles, not a predefined one`,
      );
      const permissions = Object.keys(allow.customRoles[g.role.slice('custom/'.length)] ?? {});
      t.true(permissions.length > 0, `${g.role} is an allow-listed custom role`);
      for (const p of permissions) {
        t.false(
          /\.(delete|update|create|setIamPolicy|export)$/.test(p) && p !== 'bigquery.jobs.create',
          `${identity}: ${p} would let it change or drop what it should only fill`,
        );
      }
    }
    t.false(
      grants.some((g) => /^roles\/bigquery\.(dataEditor|dataOwner|admin|jobUser|user)$/.test(g.role)),
      `${identity} holds no predefined BigQuery role`,
    );
  }
});

/** Roles that deploy, administer or impersonate: none of them may reach the identity that runs third-party code. */
const DEPLOY_ROLE =
  /admin|owner|editor|developer|invoker|serviceAccount(User|TokenCreator)|roleAdmin|projectIamAdmin|^roles\/(run|cloudfunctions|cloudbuild|secretmanager|pubsub|bigquery|datastore|cloudscheduler|monitoring|iam)\./i;

test('the CI identity holds no deploy right: only its logs, the image repository and the sources bucket', async (t) => {
  const { byIdentity } = grantsInHcl(await infra());
  const ci = byIdentity.get('ci') ?? [];
  t.true(ci.length > 0, 'the CI identity exists and publishes something');
  t.deepEqual(
    ci.filter((g) => g.on === 'project').map((g) => g.role),
    ['roles/logging.logWriter'],
    'at project level, CI may only write its build logs',
  );
  t.deepEqual(
    ci.filter((g) => DEPLOY_ROLE.test(g.role)).map((g) => `${g.role} on ${g.on}`),
    [],
  );
  t.deepEqual([...new Set(ci.map((g) => g.on))].sort(), [
    'artifact_registry_repository/docker_repository',
    'project',
    'storage_bucket/source_bucket',
  ]);
  t.false(
    ci.some((g) => /objectAdmin|objectUser|storage\.admin/.test(g.role)),
    'CI can create objects but never replace or delete one',
  );
});

test("the deployer's every role is listed with its reason in docs/DEPLOY.md", async (t) => {
  const { byIdentity } = grantsInHcl(await infra());
  const deployer = byIdentity.get('deployer') ?? [];
  t.true(deployer.length >= 10);
  const doc = readFileSync(join(ROOT, 'docs/DEPLOY.md'), 'utf8');
  for (const g of deployer) {
    t.regex(
      doc,
      new RegExp(`^\\| \`${g.role.replace(/[.]/g, '\\.')}\` \\| [^|]{20,}\\|`, 'm'),
      `docs/DEPLOY.md has a table row | \`${g.role}\` | why |`,
    );
  }
});

test('each component runs as its own service account', async (t) => {
  const inf = await infra();
  const relay = resource(mod(inf, 'relay'), 'google_cloud_run_v2_service', 'relay');
  t.is(serviceAccount(inf, 'relay', relay.template[0].service_account), 'relay');
  for (const name of ['writer', 'gapfill', 'compactor'] as const) {
    const fn = resource(mod(inf, name), 'google_cloudfunctions2_function', name);
    t.is(serviceAccount(inf, name, fn.service_config[0].service_account_email), name);
    t.is(serviceAccount(inf, name, fn.build_config[0].service_account), 'function_builder');
  }
  const push = resource(mod(inf, 'pubsub'), 'google_pubsub_subscription', 'writer_push');
  t.is(
    serviceAccount(inf, 'pubsub', push.push_config[0].oidc_token[0].service_account_email),
    'push_invoker',
  );
  const job = resource(mod(inf, 'scheduler'), 'google_cloud_scheduler_job', 'gapfill');
  t.is(
    serviceAccount(inf, 'scheduler', job.http_target[0].oidc_token[0].service_account_email),
    'scheduler_invoker',
  );
  const hourly = resource(mod(inf, 'scheduler'), 'google_cloud_scheduler_job', 'compactor');
  t.is(
    serviceAccount(inf, 'scheduler', hourly.http_target[0].oidc_token[0].service_account_email),
    'compactor_invoker',
  );
});

test('only the gap-filler may read the Tardis API key, and the secret has no value in Terraform', async (t) => {
  const inf = await infra();
  const { byIdentity } = grantsInHcl(inf);
  const readers = [...byIdentity].filter(([, grants]) =>
    grants.some((g) => g.on.startsWith('secret_manager_secret/')),
  );
  t.deepEqual(
    readers.map(([identity]) => identity),
    ['gapfill'],
  );
  const iamGrant = resource(
    mod(inf, 'iam'),
    'google_secret_manager_secret_iam_member',
    'gapfill_reads_tardis_key',
  );
  t.deepEqual(
    resolve(inf, 'iam', iamGrant.secret_id),
    resolve(
      inf,
      'secrets',
      resource(mod(inf, 'secrets'), 'google_secret_manager_secret', 'tardis_api_key').secret_id,
    ),
  );
  for (const m of allMods(inf)) {
    t.falsy(m.hcl.resource?.google_secret_manager_secret_version, `${m.name} must not hold a secret value`);
  }
});

// ---------------------------------------------------------------------------------------------------------
// Delivery: push subscription, dead letters, Scheduler.

test('the push subscription authenticates with OIDC, backs off, and dead-letters', async (t) => {
  const inf = await infra();
  const push = resource(mod(inf, 'pubsub'), 'google_pubsub_subscription', 'writer_push');
  const endpoint = resolve(inf, 'pubsub', push.push_config[0].push_endpoint);
  t.deepEqual(endpoint, {
    kind: 'opaque',
    module: 'root',
    expr: WRITER_URL,
  });
  t.deepEqual(resolve(inf, 'pubsub', push.push_config[0].oidc_token[0].audience), endpoint);
  t.true(
    push.ack_deadline_seconds >= 60 && push.ack_deadline_seconds <= 600,
    'ack deadline covers a slow insert',
  );
  t.truthy(push.retry_policy[0].minimum_backoff);
  t.truthy(push.retry_policy[0].maximum_backoff);
  const deadLetter = push.dead_letter_policy[0];
  t.like(resolve(inf, 'pubsub', deadLetter.dead_letter_topic), {
    type: 'google_pubsub_topic',
    name: 'dead_letter',
  });
  t.truthy(deadLetter.max_delivery_attempts);
  t.is(push.expiration_policy[0].ttl, '', 'the subscription never expires');
  const writer = resource(mod(inf, 'writer'), 'google_cloudfunctions2_function', 'writer');
  t.true(
    writer.service_config[0].timeout_seconds >= push.ack_deadline_seconds,
    'the writer outlives the ack deadline',
  );
});

test("the push endpoint is the writer function's deterministic URL, and the writer accepts only that audience", async (t) => {
  const inf = await infra();
  const writer = resource(mod(inf, 'writer'), 'google_cloudfunctions2_function', 'writer');
  t.deepEqual(resolve(inf, 'writer', writer.name), resolve(inf, 'root', '${local.services.writer}'));
  t.deepEqual(resolve(inf, 'writer', writer.location), resolve(inf, 'root', '${var.region}'));
  t.regex(WRITER_URL, /^https:\/\/\$\{local\.services\.writer\}-\$\{data\.google_project\.this\.number\}\./);
  const push = resource(mod(inf, 'pubsub'), 'google_pubsub_subscription', 'writer_push');
  const audience = resolve(inf, 'pubsub', push.push_config[0].oidc_token[0].audience);
  const env = envOf(inf, DEPLOYABLES.writer);
  t.deepEqual(resolve(inf, 'writer', env.get('PUSH_AUTH_AUDIENCE')), audience);
  t.is(serviceAccount(inf, 'writer', env.get('PUSH_AUTH_SERVICE_ACCOUNT')), 'push_invoker');
  t.is(
    serviceAccount(inf, 'pubsub', push.push_config[0].oidc_token[0].service_account_email),
    'push_invoker',
  );
  t.deepEqual(resolve(inf, 'root', inf.root.hcl.output.writer_url[0].value), audience);
});

test("Terraform never turns the writer's push authentication off", (t) => {
  const files = tfFiles(INFRA);
  t.true(files.length > 10);
  for (const file of [
    ...files,
    join(INFRA, 'terraform.tfvars.example'),
    join(ROOT, 'cloudbuild.yaml'),
    join(ROOT, 'cloudbuild.ci.yaml'),
  ]) {
    t.notRegex(readFileSync(file, 'utf8'), /\bPUSH_AUTH\b(?!_)/, `${file} must not set PUSH_AUTH`);
  }
});

test('dead letters are kept by their own subscription and the Pub/Sub agent may move them', async (t) => {
  const inf = await infra();
  const hold = resource(mod(inf, 'pubsub'), 'google_pubsub_subscription', 'dead_letter_hold');
  t.falsy(hold.push_config, 'a pull subscription that keeps messages');
  t.is(hold.expiration_policy[0].ttl, '');
  const agent = grantsInHcl(inf).byIdentity.get('pubsub_service_agent') ?? [];
  t.deepEqual(sortGrants(agent), [
    'roles/pubsub.publisher on pubsub_topic/dead_letter_topic',
    'roles/pubsub.subscriber on pubsub_subscription/push_subscription',
  ]);
  const iam = inf.root.hcl.module.iam[0];
  t.is(literal(inf, 'root', iam.dead_letter_topic), DEFAULT_TOPOLOGY.deadLetterTopic);
  t.is(literal(inf, 'root', iam.push_subscription), DEFAULT_TOPOLOGY.pushSubscription);
});

/** The Scheduler job `name`: it calls the function of module `name` with an OIDC token for that URL, and retries. */
function scheduledJob(t: ExecutionContext, inf: Infra, name: string): Block {
  const job = resource(mod(inf, 'scheduler'), 'google_cloud_scheduler_job', name);
  const target = resolve(inf, 'scheduler', job.http_target[0].uri);
  t.like(target, {
    kind: 'resource',
    module: name,
    type: 'google_cloudfunctions2_function',
    name,
  });
  t.deepEqual(resolve(inf, 'scheduler', job.http_target[0].oidc_token[0].audience), target);
  t.true(job.retry_config[0].retry_count >= 1);
  t.truthy(job.attempt_deadline);
  return job;
}

test('the Scheduler job calls the gap-filler URL every minute with an OIDC token', async (t) => {
  const job = scheduledJob(t, await infra(), 'gapfill');
  t.is(job.schedule, '* * * * *');
});

test('the compactor is called every hour with an OIDC token, by an identity that may call nothing else', async (t) => {
  const inf = await infra();
  const job = scheduledJob(t, inf, 'compactor');
  t.is(job.schedule, '0 * * * *');
  t.is(job.time_zone, 'Etc/UTC');
  t.is(job.http_target[0].http_method, 'POST', 'the handler answers 405 to anything else');
  const fn = resource(mod(inf, 'compactor'), 'google_cloudfunctions2_function', 'compactor');
  const service = fn.service_config[0];
  t.is(job.attempt_deadline, `${service.timeout_seconds}s`, 'Scheduler waits as long as a run may take');
  t.true(service.timeout_seconds <= 1800, "Scheduler's longest HTTP attempt deadline is 30 min");
  t.is(service.max_instance_count, 1, 'one run at a time');
  t.is(service.max_instance_request_concurrency, 1);
  const { byIdentity } = grantsInHcl(inf);
  t.deepEqual(sortGrants(byIdentity.get('compactor_invoker') ?? []), [
    'roles/run.invoker on cloud_run_v2_service/compactor_service',
  ]);
  const grant = resource(
    mod(inf, 'iam'),
    'google_cloud_run_v2_service_iam_member',
    'scheduler_invokes_compactor',
  );
  t.deepEqual(resolve(inf, 'iam', grant.name), {
    kind: 'literal',
    value: literal(inf, 'root', '${local.services.compactor}'),
  });
});

test("the compactor's grants name exactly the code's compacted tables, their _settled tables and views", async (t) => {
  const inf = await infra();
  const compacted = Object.assign({}, ...(inf.root.hcl.locals ?? [])).compacted as Record<string, Block>;
  t.deepEqual(
    compacted,
    Object.fromEntries(
      compactedTables().map((name) => [
        name,
        { settled: settledTableName(name), view: dedupViewName(name as TableName) },
      ]),
    ),
  );
  const catalogue = JSON.parse(readFileSync(join(SCHEMA_DIR, 'tables.json'), 'utf8')) as Record<
    string,
    Block
  >;
  for (const [name, { settled, view }] of Object.entries(compacted)) {
    t.truthy(catalogue[settled], `Terraform creates ${settled}`);
    t.is(catalogue[name]!.dedupView.name, view);
    // The view Terraform creates reads as nothing settled, so the compactor's first run starts from history.
    t.is(settledBeforeOf(catalogue[name]!.dedupView.query, TABLES[name as TableName]), NOTHING_SETTLED);
  }
  const iam = inf.root.hcl.module.iam[0];
  t.is(iam.compacted_tables, '${keys(local.compacted)}');
  t.is(iam.settled_tables, '${[for table in local.compacted : table.settled]}');
  t.is(iam.compacted_views, '${[for table in local.compacted : table.view]}');
  t.is(literal(inf, 'root', iam.gaps_table), DEFAULT_TOPOLOGY.gaps);
  const { byIdentity } = grantsInHcl(inf);
  const grants = byIdentity.get('compactor') ?? [];
  t.deepEqual(
    grants.filter((g) => g.on === 'project').map((g) => g.role),
    ['custom/tickstreamQueryRunner'],
    'at project level, only query jobs: no Firestore, no predefined BigQuery role',
  );
  t.deepEqual(
    grants.filter((g) => g.on !== 'project' && !g.on.startsWith('bigquery_table/')),
    [],
    'every other grant is on one table or view, never the dataset',
  );
});

// ---------------------------------------------------------------------------------------------------------
// Runtimes.

test('the functions run nodejs22 with the writer, gapfill and compactor entry points from a packaged zip', async (t) => {
  const inf = await infra();
  for (const name of ['writer', 'gapfill', 'compactor'] as const) {
    const fn = resource(mod(inf, name), 'google_cloudfunctions2_function', name);
    t.is(fn.build_config[0].runtime, 'nodejs22');
    t.is(fn.build_config[0].entry_point, name);
    t.is(fn.service_config[0].ingress_settings, 'ALLOW_INTERNAL_ONLY');
    t.is(
      fn.build_config[0].source[0].storage_source[0].object,
      '${google_storage_bucket_object.source.name}',
    );
    const zipObject = resource(mod(inf, name), 'google_storage_bucket_object', 'source');
    t.regex(zipObject.name, /filemd5\(var\.source_zip\)/);
    t.regex(
      String(inf.root.hcl.variable[`${name}_source_zip`][0].default),
      new RegExp(`dist/packages/${name}\\.zip$`),
    );
  }
});

test('each relay pool runs a fixed number of always-on instances (one by default) with health probes', async (t) => {
  const inf = await infra();
  const relay = resource(mod(inf, 'relay'), 'google_cloud_run_v2_service', 'relay');
  t.is(relay.ingress, 'INGRESS_TRAFFIC_INTERNAL_ONLY', 'nothing outside the project reaches the relay');
  const template = relay.template[0];
  const { min_instance_count: min, max_instance_count: max } = template.scaling[0];
  t.is(min, max, 'never autoscaled: a member joining or leaving moves shards');
  t.deepEqual(resolve(inf, 'relay', min), { kind: 'variable', name: 'relay_instances_per_pool' });
  t.is(inf.root.hcl.variable.relay_instances_per_pool[0].default, 1);
  const container = template.containers[0];
  t.false(container.resources[0].cpu_idle, 'instance-based billing keeps CPU for the websockets');
  t.is(container.startup_probe[0].http_get[0].path, '/readyz');
  t.is(container.liveness_probe[0].http_get[0].path, '/healthz');
  // The release's image, unless CD holds this pool at the digest it runs (its first phase).
  t.is(container.image, '${lookup(var.held_images, each.key, var.image)}');
  const image = resolve(inf, 'relay', '${var.image}');
  t.is(image.kind, 'opaque');
  t.regex((image as { expr: string }).expr, /^\$\{local\.relay_repository\}@\$\{var\.relay_image_digest\}$/);
  t.regex(String(literalOrExpr(inf, 'root', '${local.relay_repository}')), /docker\.pkg\.dev\/.*\/relay$/);
  t.is(
    inf.root.hcl.module.relay[0].held_images,
    '${{ for pool, digest in var.relay_held_digests : pool => "${local.relay_repository}@${digest}" }}',
  );
  // Deployed by digest only: the variable refuses a tag, a short digest or an empty value.
  const digest = inf.root.hcl.variable.relay_image_digest[0];
  t.false('default' in digest, 'no default: every apply names the image CI built');
  const pattern = /regex\("([^"]+)"/
    .exec(String(digest.validation[0].condition))?.[1]
    ?.replace(/\\\\/g, '\\');
  t.truthy(pattern);
  const accepts = (v: string) => new RegExp(pattern!).test(v);
  t.true(accepts(`sha256:${'0123456789abcdef'.repeat(4)}`));
  for (const bad of [
    'latest',
    'abc1234',
    'sha256:abc',
    `sha256:${'A'.repeat(64)}`,
    `x sha256:${'0'.repeat(64)}`,
    '',
  ]) {
    t.false(accepts(bad), `relay_image_digest refuses ${JSON.stringify(bad)}`);
  }
});

test('Firestore TTL policies expire heartbeat, lease and fleet member documents on expireAt', async (t) => {
  const inf = await infra();
  const firestore = mod(inf, 'firestore');
  t.is(resource(firestore, 'google_firestore_database', 'this').type, 'FIRESTORE_NATIVE');
  const ttl = Object.values(firestore.hcl.resource.google_firestore_field as Record<string, Block[]>).map(
    ([f]) => ({
      collection: literal(inf, 'firestore', f!.collection),
      field: literal(inf, 'firestore', f!.field),
      ttl: Boolean(f!.ttl_config),
    }),
  );
  t.deepEqual(
    ttl.sort((a, b) => String(a.collection).localeCompare(String(b.collection))),
    [
      { collection: DEFAULT_TOPOLOGY.leases, field: 'expireAt', ttl: true },
      { collection: DEFAULT_TOPOLOGY.heartbeats, field: 'expireAt', ttl: true },
      { collection: 'relay_members', field: 'expireAt', ttl: true },
    ].sort((a, b) => a.collection.localeCompare(b.collection)),
  );
});

test('every alert notifies the channels and the dashboard is valid JSON with known placeholders', async (t) => {
  const inf = await infra();
  const monitoring = mod(inf, 'monitoring');
  const policies = monitoring.hcl.resource.google_monitoring_alert_policy as Record<string, Block[]>;
  t.deepEqual(Object.keys(policies).sort(), [
    'checkpoint_age',
    'compactor_behind',
    'dead_letters',
    'gap_open',
    'relay_heartbeat',
    'signal',
    'writer_errors',
  ]);
  for (const [name, [policy]] of Object.entries(policies)) {
    t.is(policy!.notification_channels, '${var.notification_channels}', name);
  }
  const deadLetters = policies.dead_letters![0]!.conditions[0].condition_threshold[0];
  t.regex(deadLetters.filter, /subscription_id=\\?"\$\{var\.dead_letter_subscription\}/);
  t.is(deadLetters.threshold_value, 0);
  t.is(
    literal(inf, 'root', inf.root.hcl.module.monitoring[0].dead_letter_subscription),
    DEFAULT_TOPOLOGY.deadLetterSubscription,
  );

  // No successful compactor run for 42 h: the day that ended 48 h ago (due 6 h after its end) is not settled.
  const behind = policies.compactor_behind![0]!.conditions[0].condition_prometheus_query_language[0];
  t.regex(
    behind.query,
    /absent_over_time\(run_googleapis_com:request_count\{[^}]*service_name="\$\{var\.compactor_service\}",response_code_class="2xx"\}\[42h\]\)/,
  );
  const hour = 3_600_000;
  t.is(42 * hour + DEFAULT_COMPACTION_OPTIONS.settleMs, 48 * hour, 'the window follows the settle delay');
  t.is(
    literal(inf, 'root', inf.root.hcl.module.monitoring[0].compactor_service),
    literal(inf, 'root', '${local.services.compactor}'),
  );

  const dashboard = monitoring.hcl.resource.google_monitoring_dashboard.pipeline[0].dashboard_json as string;
  const provided = new Set([...dashboard.matchAll(/^\s*(\w+)\s*=/gm)].map((m) => m[1]));
  const text = readFileSync(join(monitoring.dir, 'dashboard.json'), 'utf8');
  t.notThrows(() => JSON.parse(text));
  const used = new Set([...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]));
  t.deepEqual(
    [...used].filter((u) => !provided.has(u)),
    [],
    'every dashboard placeholder is passed to templatefile',
  );
});

// ---------------------------------------------------------------------------------------------------------
// cloudbuild.yaml and the Dockerfile.

interface BuildStep {
  id?: string;
  name: string;
  entrypoint?: string;
  args?: string[];
  waitFor?: string[];
}
interface BuildConfig {
  substitutions: Record<string, string>;
  options?: { env?: string[] };
  steps: BuildStep[];
}
/** CD (cloudbuild.yaml, deploys) and CI (cloudbuild.ci.yaml, tests and publishes): docs/decisions/0023. */
const BUILD_FILES = { cd: 'cloudbuild.yaml', ci: 'cloudbuild.ci.yaml' } as const;
function cloudbuild(which: keyof typeof BUILD_FILES = 'cd'): BuildConfig {
  return yaml.load(readFileSync(join(ROOT, BUILD_FILES[which]), 'utf8')) as BuildConfig;
}
const commandText = (step: BuildStep) => [step.entrypoint ?? '', ...(step.args ?? [])].join(' ');

test('the cloudbuild files parse and every step has a unique id and waits only on earlier steps', (t) => {
  const ids = { cd: new Set<string>(), ci: new Set<string>() };
  for (const which of ['cd', 'ci'] as const) {
    const config = cloudbuild(which);
    t.true(config.steps.length > 0);
    const seen = ids[which];
    for (const [i, step] of config.steps.entries()) {
      t.truthy(step.id, `${which} step ${i} (${step.name}) has an id`);
      t.false(seen.has(step.id!), `id ${step.id} is unique`);
      for (const dep of step.waitFor ?? []) {
        t.true(dep === '-' || seen.has(dep), `${step.id} waits for ${dep}, an earlier step`);
      }
      seen.add(step.id!);
    }
  }
  for (const id of ['install', 'lint', 'test', 'compile', 'package-writer', 'package-gapfill']) {
    t.true(ids.ci.has(id), `a ${id} step in CI`);
  }
  t.true(ids.cd.has('terraform-apply'), 'a terraform-apply step in CD');
  const steps = Object.fromEntries(cloudbuild('ci').steps.map((s) => [s.id, commandText(s)]));
  t.regex(steps.install!, /npm ci/);
  t.regex(steps.lint!, /npm run lint/);
  t.regex(steps.test!, /npm test/);
  t.regex(steps.compile!, /tsc -p tsconfig\.build\.json/);
});

test("the build checks the deploy through data, never through the relay's internal URL", (t) => {
  const steps = cloudbuild().steps.map(commandText).join('\n');
  t.notRegex(steps, /relay_url|readyz/);
  t.true(cloudbuild().steps.some((s) => s.id === 'smoke-checkpoints'));
});

test('every script, npm script and file the cloudbuild files call exists', (t) => {
  const scripts = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  for (const which of ['cd', 'ci'] as const) {
    for (const step of cloudbuild(which).steps) {
      const text = commandText(step);
      for (const [, dist, path] of text.matchAll(/\b(dist\/)?(scripts\/[\w./-]+\.(?:ts|mjs|js|sh))/g)) {
        // dist/scripts/x.js runs inside the relay image: its source is scripts/x.ts.
        const source = dist ? path!.replace(/\.js$/, '.ts') : path!;
        t.true(existsSync(join(ROOT, source)), `${step.id}: ${source} exists`);
      }
      for (const [, script] of text.matchAll(/npm run ([\w:-]+)/g)) {
        t.truthy(scripts[script!], `${step.id}: npm run ${script} is a package.json script`);
      }
      if (/\bnpm test\b/.test(text)) t.truthy(scripts.test, `${step.id}: npm test`);
      for (const [, path] of text.matchAll(/-p (\S+\.json)/g))
        t.true(existsSync(join(ROOT, path!)), `${path} exists`);
      for (const [, path] of text.matchAll(/-chdir=(\S+)/g))
        t.true(existsSync(join(ROOT, path!)), `${path} exists`);
      if (step.args?.[0] === 'build') t.true(existsSync(join(ROOT, 'Dockerfile')), 'Dockerfile exists');
    }
  }
});

test('every substitution the cloudbuild files use is declared', (t) => {
  for (const which of ['cd', 'ci'] as const) {
    const text = readFileSync(join(ROOT, BUILD_FILES[which]), 'utf8').replace(/\$\$/g, '');
    const declared = new Set(Object.keys(cloudbuild(which).substitutions));
    const used = new Set([...text.matchAll(/\$\{?(_[A-Z0-9_]+)/g)].map((m) => m[1]!));
    t.deepEqual(
      [...used].filter((u) => !declared.has(u)),
      [],
      BUILD_FILES[which],
    );
  }
  const variables = new Set(Object.keys(infraVariablesSync()));
  for (const env of cloudbuild().options?.env ?? []) {
    const tfVar = /^TF_VAR_(\w+)=/.exec(env)?.[1];
    if (tfVar) t.true(variables.has(tfVar), `${tfVar} is a root variable`);
  }
});

function infraVariablesSync(): Record<string, true> {
  const text = readFileSync(join(INFRA, 'variables.tf'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^variable "(\w+)"/gm)].map((m) => [m[1], true]));
}

test('the Dockerfile builds on node:22-slim, installs no dev dependencies and runs the relay as non-root', (t) => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').map((l) => l.trim());
  const froms = lines.filter((l) => /^FROM\s/i.test(l));
  t.true(froms.length >= 2, 'multi-stage');
  for (const from of froms) t.regex(from, /^FROM node:22-slim\b/);
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  t.regex(runtime, /npm ci --omit=dev/);
  t.notRegex(runtime, /npm (ci|install)(?![^\n]*--omit=dev)/);
  const user = [...runtime.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]).at(-1);
  t.truthy(user, 'sets a USER');
  t.not(user, 'root');
  t.not(user, '0');
  t.regex(text, /tsc -p tsconfig\.build\.json/);
  t.regex(runtime, /^CMD \["node", "dist\/functions\/relay\/main\.js"\]$/m);
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
  t.regex(ignore, /node_modules/);
});

// ---------------------------------------------------------------------------------------------------------
// Function packaging and the smoke check.

function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tickstream-pkg-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

function unzip(archive: Buffer): Map<string, Buffer> {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = archive.readUInt16LE(end + 10);
  let at = archive.readUInt32LE(end + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const method = archive.readUInt16LE(at + 10);
    const size = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const extra = archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
    const offset = archive.readUInt32LE(at + 42);
    const name = archive.toString('utf8', at + 46, at + 46 + nameLength);
    const dataAt = offset + 30 + archive.readUInt16LE(offset + 26) + archive.readUInt16LE(offset + 28);
    const body = archive.subarray(dataAt, dataAt + size);
    out.set(name, method === 8 ? inflateRawSync(body) : Buffer.from(body));
    at += 46 + nameLength + extra;
  }
  return out;
}

test('a function package holds only its entry import closure and a manifest pointing at the entry', (t) => {
  const root = fixture({
    'package.json': JSON.stringify({
      name: 'tickstream',
      version: '1.2.3',
      dependencies: {
        '@google-cloud/functions-framework': '5.0.5',
        '@x/y': '1.0.0',
        used: '2.0.0',
        unused: '3.0.0',
      },
      devDependencies: { ava: '8.1.2' },
    }),
    'dist/functions/writer/index.js':
      "import * as ff from '@google-cloud/functions-framework';\nimport { a } from '../core/a.js';\nimport fs from 'node:fs';\nimport path from 'path';\nexport { b } from './b.js';\n",
    'dist/functions/writer/b.js': "import '@x/y/sub';\nexport const b = 1;\n",
    'dist/functions/core/a.js': "export const a = await import('./lazy.js');\nimport 'used';\n",
    'dist/functions/core/lazy.js': 'export {};\n',
    'dist/functions/relay/main.js': "import 'unused';\n",
  });
  try {
    const entries = planPackage(root, 'writer');
    t.deepEqual(
      entries.map((e) => e.name),
      [
        'dist/functions/core/a.js',
        'dist/functions/core/lazy.js',
        'dist/functions/writer/b.js',
        'dist/functions/writer/index.js',
        'package.json',
      ],
    );
    const manifest = JSON.parse(entries.find((e) => e.name === 'package.json')!.data.toString());
    t.like(manifest, { name: 'tickstream-writer', type: 'module', main: 'dist/functions/writer/index.js' });
    t.deepEqual(manifest.dependencies, {
      '@google-cloud/functions-framework': '5.0.5',
      '@x/y': '1.0.0',
      used: '2.0.0',
    });

    const archive = zip(entries);
    t.deepEqual(zip(entries), archive, 'the same input gives the same bytes');
    const back = unzip(archive);
    t.deepEqual(
      [...back.keys()],
      entries.map((e) => e.name),
    );
    for (const entry of entries) t.deepEqual(back.get(entry.name), entry.data, entry.name);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a function importing a package that is not a production dependency is refused', (t) => {
  t.throws(
    () =>
      functionManifest(
        { name: 'tickstream', version: '0', dependencies: { '@google-cloud/functions-framework': '5.0.5' } },
        'writer',
        ['ava'],
      ),
    {
      instanceOf: PackageError,
      message: /ava/,
    },
  );
});

test('the deployed functions import only production dependencies', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const name of Object.keys(FUNCTIONS)) {
    const entry = `functions/${name}/index.ts`;
    if (!existsSync(join(ROOT, entry))) {
      t.log(`${entry} does not exist yet`);
      continue;
    }
    const { packages } = importClosure(ROOT, entry);
    t.deepEqual(
      packages.filter((p) => !pkg.dependencies[p]),
      [],
      `${name} imports only "dependencies"`,
    );
  }
});

test('the smoke check calls a stream stale when its checkpoint is missing or old', (t) => {
  const streams = parseStreamsConfig('binance:btcusdt,ethusdt:trade');
  const checkpoint = (symbol: string, coveredTo: number): Checkpoint => ({
    stream: { exchange: 'binance', symbol, type: 'trade' },
    lastTickTs: 0,
    lastTradeId: null,
    committedRows: 1,
    coveredTo,
    lastBatchId: 'b',
    updatedAt: coveredTo,
  });
  const report = freshness(streams, [checkpoint('btcusdt', 100_000)], 150_000, 60_000);
  t.deepEqual(
    report.map((r) => [r.ageMs, r.fresh]),
    [
      [50_000, true],
      [null, false],
    ],
  );
  t.false(
    freshness(streams, [checkpoint('btcusdt', 0), checkpoint('ethusdt', 0)], 150_000, 60_000)[0]!.fresh,
  );
});
