/**
 * The relay fleet's deployment, offline: two Cloud Run services (pools) each holding one replica of every
 * shard, rolled by CD one after the other with the fleet gate between, and the root variables that drive
 * it checked by Terraform itself (validation in a sandbox, no provider needed).
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseHcl } from '@cdktf/hcl2json';
import yaml from 'js-yaml';
import { RELAY_OPTIONS } from '../../functions/relay/config.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const INFRA = join(ROOT, 'infra');
const run = promisify(execFile);
const TF_ENV = { ...process.env, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1' };

type Block = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function hcl(file: string): Promise<Block> {
  return (await parseHcl(file, readFileSync(join(INFRA, file), 'utf8'))) as Block;
}

interface Step {
  id: string;
  entrypoint?: string;
  args?: string[];
  waitFor?: string[];
}
const cd = () =>
  yaml.load(readFileSync(join(ROOT, 'cloudbuild.yaml'), 'utf8')) as {
    substitutions: Record<string, string>;
    options: { env: string[] };
    steps: Step[];
  };
const text = (s: Step) => [s.entrypoint ?? '', ...(s.args ?? [])].join(' ');

test('the relay is one Cloud Run service per pool, a and b, each instance told its pool and in fleet mode', async (t) => {
  const main = await hcl('main.tf');
  const relayCall = main.module.relay[0];
  t.is(relayCall.pools, '${local.relay_pools}');
  const locals = Object.assign({}, ...main.locals);
  t.deepEqual(locals.relay_pools, ['a', 'b'], 'as many pools as replicas per shard');
  t.is(RELAY_OPTIONS.fleetReplicas.default, locals.relay_pools.length);

  const relay = (await parseHcl(
    'main.tf',
    readFileSync(join(INFRA, 'modules/relay/main.tf'), 'utf8'),
  )) as Block;
  const service = relay.resource.google_cloud_run_v2_service.relay[0];
  t.is(service.for_each, '${toset(var.pools)}');
  t.is(service.name, '${var.name}-${each.key}');
  const env = Object.fromEntries(
    (service.template[0].containers[0].env as { name: string; value: string }[]).map((e) => [
      e.name,
      e.value,
    ]),
  );
  t.is(env.RELAY_FLEET, 'on');
  t.is(env.RELAY_FLEET_POOL, '${each.key}', 'the pool places one replica of each shard in each service');
  t.is(env.RELAY_FLEET_MIN_SHARDS, '${tostring(var.fleet_min_shards)}');
  t.deepEqual(
    [locals.fleet_collections.members, locals.fleet_collections.shards],
    [RELAY_OPTIONS.members.default, RELAY_OPTIONS.shards.default],
  );
  t.is(relayCall.members, '${local.fleet_collections.members}');
  t.is(relayCall.shards, '${local.fleet_collections.shards}');
});

/** A sandbox holding the root variables alone, initialised once: `plan` gives ok or the validation error. */
async function variablesSandbox(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'tf-fleet-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(INFRA, 'variables.tf'), join(dir, 'variables.tf'));
  await run('terraform', ['init', '-backend=false', '-input=false', '-no-color'], { cwd: dir, env: TF_ENV });
  return async (vars: Record<string, string>) => {
    const args = Object.entries(vars).map(([k, v]) => `-var=${k}=${v}`);
    try {
      await run('terraform', ['plan', '-input=false', '-lock=false', '-no-color', ...args], {
        cwd: dir,
        env: TF_ENV,
      });
      return { ok: true, output: '' };
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };
}

test('Terraform refuses a held digest that is not a pool and a sha256, and a fractional count', async (t) => {
  const plan = await variablesSandbox(t);
  const required = {
    project_id: 'proj-1',
    relay_streams: 'binance:btcusdt:trade',
    relay_image_digest: `sha256:${'a'.repeat(64)}`,
    tardis_api_key_version: '1',
    environment: 'development',
  };
  const digest = `sha256:${'b'.repeat(64)}`;
  // Terraform reports every failed validation of a plan, so one plan can check several.
  const cases: [Record<string, string>, RegExp[]][] = [
    [
      { relay_held_digests: `{b="${digest}"}`, relay_instances_per_pool: '2', relay_fleet_min_shards: '4' },
      [],
    ],
    [{ relay_held_digests: `{c="${digest}"}` }, [/relay_held_digests maps a pool/]],
    [
      { relay_held_digests: '{b="latest"}', relay_instances_per_pool: '1.5', relay_fleet_min_shards: '0' },
      [
        /relay_held_digests maps a pool/,
        /relay_instances_per_pool must be a whole number/,
        /relay_fleet_min_shards must be a whole number/,
      ],
    ],
  ];
  for (const [vars, errors] of cases) {
    const planned = await plan({ ...required, ...vars });
    t.is(planned.ok, errors.length === 0, `${JSON.stringify(vars)}: ${planned.output}`);
    for (const error of errors) t.regex(planned.output, error, JSON.stringify(vars));
  }
});

test('CD rolls pool a with pool b held, passes the fleet gate, then rolls pool b and checks the fleet again', (t) => {
  const { steps, substitutions, options } = cd();
  const order = steps.map((s) => s.id);
  const at = (id: string) => {
    const i = order.indexOf(id);
    t.true(i >= 0, `a ${id} step`);
    return i;
  };
  const sequence = [
    'hold-pool-b',
    'terraform-plan-pool-a',
    'terraform-apply-pool-a',
    'fleet-gate',
    'terraform-plan',
    'terraform-apply',
    'fleet-gate-after',
    'smoke-checkpoints',
  ];
  for (let i = 1; i < sequence.length; i++) {
    const step = steps[at(sequence[i]!)]!;
    t.true(at(sequence[i - 1]!) < at(sequence[i]!), `${sequence[i - 1]} before ${sequence[i]}`);
    t.true(step.waitFor?.includes(sequence[i - 1]!), `${step.id} waits for ${sequence[i - 1]}`);
  }
  const byId = Object.fromEntries(steps.map((s) => [s.id, text(s)]));
  t.regex(byId['hold-pool-b']!, /output -raw relay_hold_tfvars >infra\/hold\.auto\.tfvars\.json/);
  t.regex(byId['terraform-plan']!, /rm -f infra\/hold\.auto\.tfvars\.json && terraform -chdir=infra plan/);
  for (const gate of ['fleet-gate', 'fleet-gate-after']) {
    t.regex(byId[gate]!, /node dist\/scripts\/release\/fleet-gate\.js --project=\$PROJECT_ID/);
    t.regex(
      byId[gate]!,
      /--streams='\$\{_RELAY_STREAMS\}' +\\?\s*--min-shards=\$\{_RELAY_FLEET_MIN_SHARDS\}/,
    );
  }
  t.truthy(substitutions._RELAY_FLEET_MIN_SHARDS);
  t.true(options.env.includes('TF_VAR_relay_fleet_min_shards=${_RELAY_FLEET_MIN_SHARDS}'));
});

test('the hold output holds every pool but the first, and the relay image carries the gate', async (t) => {
  const outputs = await hcl('outputs.tf');
  const hold = String(outputs.output.relay_hold_tfvars[0].value);
  t.regex(hold, /relay_held_digests/);
  t.regex(hold, /if pool != local\.relay_pools\[0\]/);
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  t.regex(dockerfile, /COPY --from=build \/app\/dist\/scripts\/release\/fleet-gate\.js/);
  t.regex(dockerfile, /COPY --from=build \/app\/dist\/scripts\/ops\/fleet-state\.js/);
  const image = JSON.parse(readFileSync(join(ROOT, 'tsconfig.image.json'), 'utf8')) as { include: string[] };
  t.true(image.include.includes('scripts/release/fleet-gate.ts'));
});
