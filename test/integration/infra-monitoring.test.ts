/**
 * Keeps the monitoring module true to the code, offline. signals.tf holds values only, so Terraform
 * itself evaluates it (`terraform console`, no provider needed); routing.tf's guard and the root
 * variables' validations run in real `terraform plan`s of those files alone. The resources around them
 * (google_logging_metric, google_monitoring_alert_policy) need the google provider to plan: they are
 * checked as parsed HCL (@cdktf/hcl2json), and Cloud Monitoring's own acceptance of filters and
 * aggregations is left to the first real plan and apply.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseHcl } from '@cdktf/hcl2json';
import { SIGNALS, SIGNAL_FIELD, type Signal, type SignalName } from '../../functions/core/shared/signals.ts';
import { runSignalScenarios, SIGNALS_OUTSIDE_SCENARIOS } from '../support/signal-scenarios.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const INFRA = join(ROOT, 'infra');
const MONITORING = join(INFRA, 'modules/monitoring');
const run = promisify(execFile);
const TF_ENV = { ...process.env, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1' };

type Block = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface EvaluatedMetric {
  name: string;
  filter: string;
  value_type: 'INT64' | 'DISTRIBUTION';
  labels: Record<string, string>;
  label_extractors: Record<string, string>;
  value_extractor: string | null;
  bucket_scale: number | null;
}
interface EvaluatedAlert {
  severity: string;
  threshold: number;
  window: string;
  aligner: string;
  reducer: string;
  group_by: string[];
  documentation: string;
}
interface EvaluatedSignal {
  component: Signal['component'];
  labels: Record<string, string>;
  value: string | null;
  runbook: string;
}
interface Evaluated {
  signals: Record<string, EvaluatedSignal>;
  metrics: Record<string, EvaluatedMetric>;
  alerts: Record<string, EvaluatedAlert>;
  own: string[];
  services: Record<Signal['component'], string>;
}

/** The monitoring module's variables as the root passes them (services and topology of infra/main.tf). */
const MODULE_VARS: Record<string, string> = {
  project_id: 'proj-1',
  notification_channels: '[]',
  environment: 'development',
  relay_service: 'tickstream-relay',
  writer_service: 'tickstream-writer',
  gapfill_service: 'tickstream-gapfill',
  compactor_service: 'tickstream-compactor',
  topic: 'ticks',
  push_subscription: 'ticks-writer',
  dead_letter_subscription: 'ticks-dead-letter-hold',
};
const ROOT_REQUIRED_VARS: Record<string, string> = {
  project_id: 'proj-1',
  relay_streams: 'binance:btcusdt:trade',
  relay_image_digest: `sha256:${'a'.repeat(64)}`,
  tardis_api_key_version: '1',
};
const CHANNEL = 'projects/proj-1/notificationChannels/1234567890';

/** A temporary directory holding copies of `files` (paths under infra/), removed after the test. */
function sandbox(t: ExecutionContext, files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'tf-monitoring-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of files) copyFileSync(join(INFRA, file), join(dir, file.replaceAll('/', '_')));
  return dir;
}

const varArgs = (vars: Record<string, string>) => Object.entries(vars).map(([k, v]) => `-var=${k}=${v}`);

/** `terraform plan` of a sandbox: its exit code and output, colourless. */
async function plan(dir: string, vars: Record<string, string>): Promise<{ ok: boolean; output: string }> {
  await run('terraform', ['init', '-backend=false', '-input=false', '-no-color'], { cwd: dir, env: TF_ENV });
  try {
    const { stdout } = await run(
      'terraform',
      ['plan', '-input=false', '-lock=false', '-no-color', ...varArgs(vars)],
      {
        cwd: dir,
        env: TF_ENV,
      },
    );
    return { ok: true, output: stdout };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Evaluates `expression` in a sandbox with `terraform console`; the value must be a string. */
function consoleString(dir: string, vars: Record<string, string>, expression: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('terraform', ['console', ...varArgs(vars)], { cwd: dir, env: TF_ENV });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`terraform console exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout.trim()) as string); // a quoted HCL string reads as a JSON string
    });
    child.stdin.end(`${expression}\n`);
  });
}

let evaluated: Promise<Evaluated> | undefined;
/** signals.tf evaluated by Terraform with the module's variables (once per run). */
function evaluate(t: ExecutionContext): Promise<Evaluated> {
  evaluated ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-signals-'));
    try {
      for (const file of ['variables.tf', 'signals.tf'])
        copyFileSync(join(MONITORING, file), join(dir, file));
      const json = await consoleString(
        dir,
        MODULE_VARS,
        'jsonencode({ signals = local.signals, metrics = local.signal_metrics, alerts = local.signal_alerts, own = local.own_policy_signals, services = local.services })',
      );
      return JSON.parse(json) as Evaluated;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  t.log('signals.tf evaluated by terraform console');
  return evaluated;
}

async function monitoringHcl(): Promise<Block> {
  const hcl: Block = {};
  for (const file of readdirSync(MONITORING).filter((f) => f.endsWith('.tf'))) {
    const parsed = (await parseHcl(file, readFileSync(join(MONITORING, file), 'utf8'))) as Block;
    for (const [kind, byType] of Object.entries(parsed)) {
      hcl[kind] ??= {};
      if (Array.isArray(byType)) hcl[kind] = [...(Array.isArray(hcl[kind]) ? hcl[kind] : []), ...byType];
      else
        for (const [type, byName] of Object.entries(byType)) Object.assign((hcl[kind][type] ??= {}), byName);
    }
  }
  return hcl;
}

const names = Object.keys(SIGNALS) as SignalName[];
const metricRef = (name: string) => `google_logging_metric.signal["${name}"].name`;

// ---------------------------------------------------------------------------------------------------------
// (a) Inventory: the code's table is the list; Terraform has a metric and an alert for each entry.

test('every signal of the code has a log-based metric and an alert, and Terraform has no others', async (t) => {
  const { signals, metrics, alerts, own } = await evaluate(t);
  t.deepEqual(Object.keys(signals).sort(), [...names].sort(), 'signals.tf lists exactly the code table');
  t.deepEqual(Object.keys(metrics).sort(), [...names].sort());
  const policies = (await monitoringHcl()).resource.google_monitoring_alert_policy as Record<string, Block[]>;
  for (const name of names) {
    if (own.includes(name)) {
      t.false(name in alerts, `${name}: its own policy, not the generic one`);
      const watching = Object.entries(policies).filter(([, [p]]) =>
        p!.conditions.some((c: Block) =>
          [...(c.condition_threshold ?? []), ...(c.condition_absent ?? [])].some((x: Block) =>
            String(x.filter).includes(metricRef(name)),
          ),
        ),
      );
      t.true(watching.length > 0, `${name}: an explicit policy in main.tf watches its metric`);
    } else {
      t.truthy(alerts[name], `${name}: the generic alert`);
    }
  }
});

test("each metric is defined from the code's table: component's service, labels as JSON fields, value", async (t) => {
  const { signals, metrics, services } = await evaluate(t);
  for (const name of names) {
    const code: Signal = SIGNALS[name];
    const tf = signals[name]!;
    const metric = metrics[name]!;
    t.is(tf.component, code.component, name);
    t.deepEqual(Object.values(tf.labels).sort(), [...code.labels].sort(), `${name}: label fields`);
    t.is(tf.value, code.value ?? null, `${name}: value field`);
    t.is(metric.name, `tickstream_${name}`);
    t.true(metric.filter.includes(`jsonPayload.${SIGNAL_FIELD}="${name}"`), metric.filter);
    // The relay is a fleet of pool services sharing a name prefix (modules/relay); the others are one service.
    const service =
      code.component === 'relay'
        ? `resource.labels.service_name=~"^${services.relay}-[a-z]+$"`
        : `resource.labels.service_name="${services[code.component]}"`;
    t.true(metric.filter.includes(service), metric.filter);
    t.is(metric.value_type, code.value ? 'DISTRIBUTION' : 'INT64', name);
    t.is(metric.value_extractor, code.value ? `EXTRACT(jsonPayload.${code.value})` : null, name);
    t.is(metric.bucket_scale !== null, Boolean(code.value), `${name}: buckets only for a distribution`);
    for (const [key, field] of Object.entries(metric.labels)) {
      t.regex(key, /^[a-z][a-z0-9_]{0,99}$/, `${name}: label key`);
      t.is(metric.label_extractors[key], `EXTRACT(jsonPayload.${field})`, `${name}.${key}`);
    }
  }
  t.deepEqual(services, {
    relay: MODULE_VARS.relay_service,
    writer: MODULE_VARS.writer_service,
    gapfill: MODULE_VARS.gapfill_service,
  });
});

test('every alert has a severity, a window Monitoring accepts and an aggregation fit for its metric', async (t) => {
  const { alerts, metrics } = await evaluate(t);
  for (const [name, alert] of Object.entries(alerts)) {
    t.true(['CRITICAL', 'ERROR', 'WARNING'].includes(alert.severity), name);
    const seconds = Number(/^(\d+)s$/.exec(alert.window)?.[1]);
    t.true(seconds >= 60 && seconds <= 86_400 && seconds % 60 === 0, `${name}: window ${alert.window}`);
    t.true(alert.threshold >= 0, name);
    const counter = metrics[name]!.value_type === 'INT64';
    t.is(alert.aligner, counter ? 'ALIGN_SUM' : 'ALIGN_PERCENTILE_99', name);
    t.is(alert.reducer, counter ? 'REDUCE_SUM' : 'REDUCE_MAX', name);
    t.deepEqual(
      alert.group_by,
      Object.keys(metrics[name]!.labels).map((k) => `metric.label.${k}`),
      name,
    );
  }
});

test('the generic resources take every value from signals.tf; every policy notifies the channels', async (t) => {
  const hcl = await monitoringHcl();
  const metric = hcl.resource.google_logging_metric.signal[0] as Block;
  t.is(metric.for_each, '${local.signal_metrics}');
  t.is(metric.filter, '${each.value.filter}');
  t.is(metric.label_extractors, '${each.value.label_extractors}');
  t.is(metric.value_extractor, '${each.value.value_extractor}');
  t.is(metric.metric_descriptor[0].value_type, '${each.value.value_type}');
  const policies = hcl.resource.google_monitoring_alert_policy as Record<string, Block[]>;
  const generic = policies.signal![0]!;
  t.is(generic.for_each, '${local.signal_alerts}');
  const condition = generic.conditions[0].condition_threshold[0] as Block;
  t.true(String(condition.filter).includes('google_logging_metric.signal[each.key].name'), condition.filter);
  t.is(condition.threshold_value, '${each.value.threshold}');
  t.is(generic.documentation[0].content, '${each.value.documentation}');
  for (const [name, [policy]] of Object.entries(policies)) {
    t.is(policy!.notification_channels, '${var.notification_channels}', name);
  }
  const root = (await parseHcl('main.tf', readFileSync(join(INFRA, 'main.tf'), 'utf8'))) as Block;
  const call = root.module.monitoring[0] as Block;
  t.is(call.notification_channels, '${var.notification_channels}');
  t.is(call.environment, '${var.environment}');
});

test('every signal is in the table of docs/RELIABILITY.md and every alert names a runbook section there', async (t) => {
  const { alerts, signals } = await evaluate(t);
  const doc = readFileSync(join(ROOT, 'docs/RELIABILITY.md'), 'utf8');
  const anchors = new Set(
    [...doc.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );
  for (const [name, s] of Object.entries(signals)) {
    t.true(anchors.has(s.runbook), `${name}: #${s.runbook}`);
    t.true(doc.includes(`| \`${name}\` |`), `${name}: a row of the signal table`);
  }
  for (const [name, alert] of Object.entries(alerts)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`)) ?? '';
    t.true(row.includes(alertWhen(alert)), `${name}: the table says "${alertWhen(alert)}": ${row}`);
    t.true(alert.documentation.includes(`docs/RELIABILITY.md#${signals[name]!.runbook}`), name);
    t.true(alert.documentation.includes(`jsonPayload.signal=\"${name}\"`), name);
  }
  const main = readFileSync(join(MONITORING, 'main.tf'), 'utf8');
  for (const [, anchor] of main.matchAll(/RELIABILITY\.md#([a-z0-9-]+)/g)) {
    t.true(anchors.has(anchor!), `main.tf: #${anchor}`);
  }
});

/** How docs/RELIABILITY.md words an alert's condition: "any in 5 min", "more than 12 in 1 h", "p99 above 5 min". */
function alertWhen(alert: EvaluatedAlert): string {
  const span = (seconds: number) => (seconds % 3600 === 0 ? `${seconds / 3600} h` : `${seconds / 60} min`);
  if (alert.aligner === 'ALIGN_PERCENTILE_99') return `p99 above ${span(alert.threshold / 1000)}`;
  const window = span(Number(alert.window.replace(/s$/, '')));
  return alert.threshold === 0 ? `any in ${window}` : `more than ${alert.threshold} in ${window}`;
}

// ---------------------------------------------------------------------------------------------------------
// (b) The lines the code writes are the lines the metrics select, with the fields they extract.

/** Cloud Logging's view of a stdout JSON line: `severity`, `time` and logging.googleapis.com/* are lifted out. */
function jsonPayload(line: Record<string, unknown>): Record<string, unknown> {
  const payload = { ...line };
  for (const key of Object.keys(payload)) {
    if (key === 'severity' || key === 'time' || key.startsWith('logging.googleapis.com/'))
      delete payload[key];
  }
  return payload;
}

/** Whether a payload satisfies a metric filter's jsonPayload clauses (the only clauses on the payload). */
function matchesPayload(filter: string, payload: Record<string, unknown>): boolean {
  const clauses = [...filter.matchAll(/jsonPayload\.(\w+)="([^"]*)"/g)];
  return clauses.length > 0 && clauses.every(([, field, value]) => payload[field!] === value);
}

test('each signal line the code writes matches its metric filter, and only that one, with the extracted fields', async (t) => {
  const { metrics } = await evaluate(t);
  const { lines } = await runSignalScenarios();
  const reached = new Set<string>();
  for (const line of lines) {
    const payload = jsonPayload(line);
    const matching = Object.entries(metrics).filter(([, m]) => matchesPayload(m.filter, payload));
    if (line[SIGNAL_FIELD] === undefined) {
      t.is(matching.length, 0, `a line without a signal matches no metric: ${line.message}`);
      continue;
    }
    const name = String(line[SIGNAL_FIELD]) as SignalName;
    t.deepEqual(
      matching.map(([n]) => n),
      [name],
      JSON.stringify(line),
    );
    reached.add(name);
    const metric = metrics[name]!;
    t.is(line.severity, SIGNALS[name].severity, name);
    t.is(line.message, SIGNALS[name].message, name);
    for (const [key, field] of Object.entries(metric.labels)) {
      const value = payload[field];
      t.true(typeof value === 'string' || typeof value === 'number', `${name}: label ${key} from ${field}`);
    }
    const valueField = /^EXTRACT\(jsonPayload\.(\w+)\)$/.exec(metric.value_extractor ?? '')?.[1];
    if (valueField) t.is(typeof payload[valueField], 'number', `${name}: value ${valueField}`);
  }
  const outside = Object.keys(SIGNALS_OUTSIDE_SCENARIOS);
  t.deepEqual(
    names.filter((n) => !reached.has(n)).sort(),
    outside.sort(),
    'every signal is reached by a scenario or listed with the file that logs it',
  );
});

test('signals no scenario reaches are logged with logSignal in the file named for them', (t) => {
  for (const [name, file] of Object.entries(SIGNALS_OUTSIDE_SCENARIOS)) {
    const source = readFileSync(join(ROOT, file!), 'utf8');
    t.regex(source, new RegExp(`logSignal\\([^;]*'${name}'`), `${file} logs ${name}`);
  }
});

test("the relay's and writer's loss lines add up to their counters", async (t) => {
  const { lines, relayCounters, writerQuarantinedTicks } = await runSignalScenarios();
  const of = (...signals: SignalName[]) =>
    lines.filter((l) => signals.includes(l[SIGNAL_FIELD] as SignalName));
  const lost = of('relay_publish_failed', 'relay_backlog_dropped');
  const sum = (ls: Record<string, unknown>[], field: string) => ls.reduce((n, l) => n + Number(l[field]), 0);
  t.true(relayCounters.lostBatches >= 2, 'the scenario loses batches both ways');
  t.is(lost.length, relayCounters.lostBatches);
  t.is(sum(lost, 'ticks'), relayCounters.ticksLost);
  t.is(sum(lost, 'uncoveredMs'), relayCounters.uncoveredMs);
  const quarantined = of('writer_ticks_quarantined');
  t.deepEqual(quarantined.map((l) => l.reason).sort(), ['invalid_tick', 'undecodable_tick']);
  t.is(sum(quarantined, 'ticks'), writerQuarantinedTicks);
});

// ---------------------------------------------------------------------------------------------------------
// (c) Production refuses an empty notification channel list.

test('a production plan without notification channels fails; with one, or outside production, it passes', async (t) => {
  const dir = sandbox(t, ['modules/monitoring/variables.tf', 'modules/monitoring/routing.tf']);
  const refused = await plan(dir, { ...MODULE_VARS, environment: 'production', notification_channels: '[]' });
  t.false(refused.ok);
  t.regex(refused.output, /Resource precondition failed/);
  t.regex(refused.output, /notification_channels is empty/);
  for (const vars of [
    { environment: 'production', notification_channels: `["${CHANNEL}"]` },
    { environment: 'staging', notification_channels: '[]' },
    { environment: 'development', notification_channels: '[]' },
  ]) {
    const planned = await plan(dir, { ...MODULE_VARS, ...vars });
    t.true(planned.ok, `${JSON.stringify(vars)}: ${planned.output}`);
  }
});

test('the root defaults to production, refuses an unknown environment and malformed channel ids', async (t) => {
  const dir = sandbox(t, ['variables.tf']);
  t.is(await consoleString(dir, ROOT_REQUIRED_VARS, 'var.environment'), 'production');
  const cases: [Record<string, string>, RegExp | null][] = [
    [{ environment: 'prod' }, /environment must be production, staging or development/],
    [{ notification_channels: '["1234567890"]' }, /notification_channels must be ids like/],
    [{ notification_channels: '[""]' }, /notification_channels must be ids like/],
    [{ notification_channels: `["${CHANNEL}"]` }, null],
    [{ environment: 'staging' }, null],
  ];
  for (const [vars, error] of cases) {
    const planned = await plan(dir, { ...ROOT_REQUIRED_VARS, ...vars });
    if (error) {
      t.false(planned.ok, JSON.stringify(vars));
      t.regex(planned.output, error);
    } else {
      t.true(planned.ok, `${JSON.stringify(vars)}: ${planned.output}`);
    }
  }
});

test('tfvars.example sets an environment and a well-formed channel, and Cloud Build passes both', (t) => {
  const tfvars = readFileSync(join(INFRA, 'terraform.tfvars.example'), 'utf8');
  t.regex(tfvars, /^environment\s*=\s*"production"$/m);
  t.regex(tfvars, /^notification_channels\s*=\s*\["projects\/[^/]+\/notificationChannels\/\d+"\]$/m);
  const build = readFileSync(join(ROOT, 'cloudbuild.yaml'), 'utf8');
  t.regex(build, /TF_VAR_environment=\$\{_ENVIRONMENT\}/);
  t.regex(build, /TF_VAR_notification_channels=\$\{_NOTIFICATION_CHANNELS\}/);
});
