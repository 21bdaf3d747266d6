import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import type { CloudSchedulerClient, protos } from '@google-cloud/scheduler';
import { createSchedulerClient } from '../../scripts/local/scheduler/client.ts';
import {
  startSchedulerStandin,
  type SchedulerStandin,
  type SchedulerStandinOptions,
} from '../../scripts/local/scheduler/server.ts';
import { REPO_ROOT } from '../../scripts/local/service.ts';
import { waitUntil } from '../../scripts/local/verify.ts';
import { uniqueName } from '../support/env.ts';

process.env.METADATA_SERVER_DETECTION ??= 'none';

type Job = protos.google.cloud.scheduler.v1.IJob;

interface Hit {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/** A local HTTP target that records requests and answers `status` after `delayMs`. */
async function target(t: ExecutionContext, behaviour: { status?: number; delayMs?: number } = {}) {
  const hits: Hit[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      setTimeout(() => {
        inFlight--;
        res.statusCode = behaviour.status ?? 200;
        res.end(res.statusCode < 300 ? 'ok' : 'target failed on purpose');
      }, behaviour.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/run`,
    hits,
    maxInFlight: () => maxInFlight,
  };
}

async function standin(
  t: ExecutionContext,
  options: SchedulerStandinOptions = {},
): Promise<{ s: SchedulerStandin; client: CloudSchedulerClient; parent: string }> {
  const s = await startSchedulerStandin(options);
  const client = s.client();
  t.teardown(async () => {
    await client.close();
    await s.stop();
  });
  return { s, client, parent: `projects/${uniqueName('p').replace(/_/g, '-')}/locations/local` };
}

function httpJob(parent: string, id: string, uri: string, extra: Job = {}): Job {
  return {
    name: `${parent}/jobs/${id}`,
    schedule: '* * * * *',
    timeZone: 'Etc/UTC',
    httpTarget: {
      uri,
      httpMethod: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{"trigger":"scheduler"}'),
      oidcToken: { serviceAccountEmail: 'invoker@p.iam.gserviceaccount.com', audience: uri },
    },
    ...extra,
  };
}

/** Bound on waiting for something that must happen: generous, so a loaded CI machine does not fail it. */
const EVENTUALLY_MS = 30_000;
/** A cron that cannot fire during a test (1 January): only RunJob can start these jobs. */
const NOT_SOON = '0 0 1 1 *';

const millis = (ts: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  ts ? Number(ts.seconds) * 1000 + Math.round((ts.nanos ?? 0) / 1e6) : undefined;

function grpcCode(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

test('the real client creates, gets, lists, updates, pauses, resumes and deletes a job', async (t) => {
  const { client, parent } = await standin(t);
  const { uri } = await target(t);
  const before = Date.now();
  const [created] = await client.createJob({ parent, job: httpJob(parent, 'gapfill', uri) });
  t.is(created.name, `${parent}/jobs/gapfill`);
  t.is(created.state, 'ENABLED');
  t.truthy(created.userUpdateTime);
  const next = millis(created.scheduleTime)!;
  t.true(next > before && next <= Date.now() + 60_000 && next % 60_000 === 0, 'next run on a whole minute');

  const [got] = await client.getJob({ name: created.name });
  t.is(got.httpTarget?.uri, uri);
  t.is(got.httpTarget?.httpMethod, 'POST');
  t.is(Buffer.from(got.httpTarget!.body as Uint8Array).toString(), '{"trigger":"scheduler"}');
  t.is(got.httpTarget?.oidcToken?.serviceAccountEmail, 'invoker@p.iam.gserviceaccount.com');

  await client.createJob({ parent, job: httpJob(parent, 'other', uri) });
  const [listed] = await client.listJobs({ parent });
  t.deepEqual(
    listed.map((j) => j.name),
    [`${parent}/jobs/gapfill`, `${parent}/jobs/other`],
  );
  const [page] = await client.listJobs({ parent, pageSize: 1 }, { autoPaginate: false });
  t.is(page.length, 1, 'pages are honoured');

  const [updated] = await client.updateJob({
    job: { name: created.name, schedule: '*/5 * * * *' },
    updateMask: { paths: ['schedule'] },
  });
  t.is(updated.schedule, '*/5 * * * *');
  t.is(updated.httpTarget?.uri, uri, 'fields outside the mask are kept');
  t.is(millis(updated.scheduleTime)! % 300_000, 0);

  const [paused] = await client.pauseJob({ name: created.name });
  t.is(paused.state, 'PAUSED');
  t.falsy(paused.scheduleTime, 'a paused job has no next run');
  const [resumed] = await client.resumeJob({ name: created.name });
  t.is(resumed.state, 'ENABLED');
  t.truthy(resumed.scheduleTime);

  await client.deleteJob({ name: created.name });
  const error = await t.throwsAsync(client.getJob({ name: created.name }));
  t.is(grpcCode(error), 5, 'NOT_FOUND after delete');
  const [left] = await client.listJobs({ parent });
  t.deepEqual(
    left.map((j) => j.name),
    [`${parent}/jobs/other`],
  );
});

test('a job fires on its period against a local HTTP target and records each attempt', async (t) => {
  const { s, client, parent } = await standin(t, { periodMs: 250 });
  const http = await target(t);
  const [job] = await client.createJob({ parent, job: httpJob(parent, 'every250', http.uri) });
  t.true(
    await waitUntil(async () => http.hits.length >= 3, EVENTUALLY_MS, 20),
    'three runs within a few periods',
  );

  const hit = http.hits[0]!;
  t.is(hit.method, 'POST');
  t.is(hit.url, '/run');
  t.is(hit.body, '{"trigger":"scheduler"}');
  t.is(hit.headers['content-type'], 'application/json');
  t.is(hit.headers['user-agent'], 'Google-Cloud-Scheduler');
  t.is(hit.headers['x-cloudscheduler-jobname'], 'every250');
  t.truthy(hit.headers['x-cloudscheduler-scheduletime']);
  // The schedule, not the arrival time (which depends on load), is what must be a period apart.
  const scheduled = http.hits
    .slice(0, 3)
    .map((h) => Date.parse(String(h.headers['x-cloudscheduler-scheduletime'])));
  const steps = scheduled.slice(1).map((at, i) => at - scheduled[i]!);
  t.true(
    steps.every((ms) => ms > 0 && ms % 250 === 0),
    `scheduled times are whole periods apart: ${steps.join(', ')} ms`,
  );

  await waitUntil(
    async () => s.attempts(job.name!).every((a) => a.finishedAt !== undefined),
    EVENTUALLY_MS,
    20,
  );
  const attempts = s.attempts(job.name!);
  t.true(attempts.length >= 3);
  for (const a of attempts.filter((x) => x.finishedAt !== undefined)) {
    t.is(a.trigger, 'schedule');
    t.is(a.httpStatus, 200);
    t.is(a.code, 0);
  }
  const [got] = await client.getJob({ name: job.name });
  t.is(got.status?.code ?? 0, 0);
  t.true(millis(got.lastAttemptTime)! >= attempts[0]!.startedAt, 'lastAttemptTime is recorded');
});

test('a paused job does not fire until it is resumed', async (t) => {
  const { s, client, parent } = await standin(t, { periodMs: 200 });
  const http = await target(t);
  const [job] = await client.createJob({ parent, job: httpJob(parent, 'pausable', http.uri) });
  await client.pauseJob({ name: job.name });
  const pausedAt = Date.now();
  await sleep(800);
  const started = () => s.attempts(job.name!).filter((a) => a.startedAt >= pausedAt).length;
  t.is(started(), 0, 'no run starts while paused');
  await client.resumeJob({ name: job.name });
  t.true(await waitUntil(async () => started() >= 1, EVENTUALLY_MS, 20), 'runs again once resumed');
});

test('RunJob fires at once, even on a paused job', async (t) => {
  const { s, client, parent } = await standin(t);
  const http = await target(t);
  // The cron schedule cannot fire during the test: only RunJob can explain a request now.
  const [job] = await client.createJob({
    parent,
    job: httpJob(parent, 'manual', http.uri, { schedule: NOT_SOON }),
  });
  const before = Date.now();
  await client.runJob({ name: job.name });
  t.true(await waitUntil(async () => http.hits.length === 1, EVENTUALLY_MS, 10));
  t.is(s.attempts(job.name!)[0]?.trigger, 'run', 'the request came from RunJob, not the cron schedule');
  t.true(http.hits[0]!.at >= before);
  t.is(
    http.hits[0]!.headers['x-cloudscheduler-scheduletime'],
    undefined,
    'a manual run has no schedule time',
  );

  await client.pauseJob({ name: job.name });
  const [ran] = await client.runJob({ name: job.name });
  t.is(ran.state, 'PAUSED', 'RunJob does not resume the job');
  t.true(await waitUntil(async () => http.hits.length === 2, EVENTUALLY_MS, 10));
  await waitUntil(
    async () => s.attempts(job.name!).every((a) => a.finishedAt !== undefined),
    EVENTUALLY_MS,
    10,
  );
  t.deepEqual(
    s.attempts(job.name!).map((a) => [a.trigger, a.code]),
    [
      ['run', 0],
      ['run', 0],
    ],
  );
});

test('a scheduled execution never overlaps the previous one, while RunJob may', async (t) => {
  const { s, client, parent } = await standin(t, { periodMs: 100 });
  const http = await target(t, { delayMs: 600 });
  const [job] = await client.createJob({ parent, job: httpJob(parent, 'slow', http.uri) });
  await sleep(2000);
  t.is(http.maxInFlight(), 1, 'scheduled runs one at a time');
  const scheduled = s.attempts(job.name!).length;
  t.true(scheduled >= 1 && scheduled <= 4, `${scheduled} runs of 600 ms in 2 s, not one per 100 ms period`);

  await client.runJob({ name: job.name });
  await client.runJob({ name: job.name });
  t.true(await waitUntil(async () => http.maxInFlight() >= 2, EVENTUALLY_MS, 10), 'RunJob overlaps');
});

test('a failing target is retried per retryConfig and the job status records the HTTP error', async (t) => {
  const { s, client, parent } = await standin(t);
  const http = await target(t, { status: 503 });
  const [job] = await client.createJob({
    parent,
    job: httpJob(parent, 'failing', http.uri, {
      schedule: NOT_SOON,
      retryConfig: { retryCount: 2, minBackoffDuration: { nanos: 100e6 }, maxDoublings: 1 },
    }),
  });
  await client.runJob({ name: job.name });
  t.true(
    await waitUntil(
      async () => s.attempts(job.name!).filter((a) => a.finishedAt).length === 3,
      EVENTUALLY_MS,
      20,
    ),
  );
  await sleep(400);
  const attempts = s.attempts(job.name!);
  t.deepEqual(
    attempts.map((a) => [a.retry, a.httpStatus, a.code]),
    [
      [0, 503, 14],
      [1, 503, 14],
      [2, 503, 14],
    ],
    'first attempt and two retries, UNAVAILABLE each',
  );
  const [got] = await client.getJob({ name: job.name });
  t.is(got.status?.code, 14);
  t.regex(got.status?.message ?? '', /HTTP 503/);
});

test('an attempt without an answer within its deadline is DEADLINE_EXCEEDED', async (t) => {
  const { s, client, parent } = await standin(t);
  const http = await target(t, { delayMs: 2000 });
  const [job] = await client.createJob({
    parent,
    job: httpJob(parent, 'deadline', http.uri, { schedule: NOT_SOON, attemptDeadline: { nanos: 300e6 } }),
  });
  await client.runJob({ name: job.name });
  t.true(await waitUntil(async () => s.attempts(job.name!)[0]?.finishedAt !== undefined, EVENTUALLY_MS, 20));
  const [attempt] = s.attempts(job.name!);
  t.is(attempt!.code, 4);
  // The target answers only after 2 s; DEADLINE_EXCEEDED before then means the deadline cut it.
  t.true(attempt!.finishedAt! - attempt!.startedAt < 2000);
});

test('invalid requests and unknown jobs answer with Cloud Scheduler status codes', async (t) => {
  const { client, parent } = await standin(t);
  const { uri } = await target(t);
  const codeOf = async (call: Promise<unknown>) => grpcCode(await t.throwsAsync(call));

  t.is(await codeOf(client.getJob({ name: `${parent}/jobs/missing` })), 5, 'NOT_FOUND');
  t.is(
    await codeOf(client.createJob({ parent, job: httpJob(parent, 'bad', uri, { schedule: '61 * * * *' }) })),
    3,
  );
  t.is(await codeOf(client.createJob({ parent, job: httpJob(parent, 'bad', uri, { schedule: '' }) })), 3);
  t.is(
    await codeOf(
      client.createJob({ parent, job: httpJob(parent, 'bad', uri, { timeZone: 'Mars/Olympus' }) }),
    ),
    3,
  );
  t.is(await codeOf(client.createJob({ parent, job: httpJob('projects/x/locations/y', 'bad', uri) })), 3);
  t.is(
    await codeOf(
      client.createJob({
        parent,
        job: {
          name: `${parent}/jobs/pubsub`,
          schedule: '* * * * *',
          pubsubTarget: { topicName: 'projects/p/topics/t' },
        },
      }),
    ),
    12,
    'UNIMPLEMENTED: only HTTP targets run here',
  );

  const [job] = await client.createJob({ parent, job: httpJob(parent, 'dup', uri) });
  t.is(await codeOf(client.createJob({ parent, job: httpJob(parent, 'dup', uri) })), 6, 'ALREADY_EXISTS');
  t.is(await codeOf(client.resumeJob({ name: job.name })), 9, 'resuming an enabled job: FAILED_PRECONDITION');
  await client.pauseJob({ name: job.name });
  t.is(await codeOf(client.pauseJob({ name: job.name })), 9, 'pausing a paused job: FAILED_PRECONDITION');
  t.is(
    await codeOf(
      client.updateJob({ job: { name: job.name, state: 'ENABLED' }, updateMask: { paths: ['state'] } }),
    ),
    3,
    'state is output only',
  );
});

test('stop() ends every schedule and is safe to call twice', async (t) => {
  const s = await startSchedulerStandin({ periodMs: 100 });
  const client = s.client();
  const http = await target(t);
  const parent = 'projects/stop/locations/local';
  await client.createJob({ parent, job: httpJob(parent, 'stopping', http.uri) });
  await waitUntil(async () => http.hits.length >= 1, EVENTUALLY_MS, 10);
  await client.close();
  await Promise.all([s.stop(), s.stop()]);
  await s.stop();
  const count = http.hits.length;
  await sleep(400);
  t.is(http.hits.length, count, 'no run after stop');
  const late = createSchedulerClient(`${s.endpoint.host}:${s.endpoint.port}`);
  const error = await t.throwsAsync(
    late.getJob({ name: `${parent}/jobs/stopping` }, { timeout: 2000, maxRetries: 0 }),
  );
  t.true([4, 14].includes(grpcCode(error) ?? -1), 'the server is closed');
  await late.close();
});

test('the CLI prints one JSON line when ready, serves the real client and stops on SIGTERM', async (t) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/local/scheduler/main.ts', '--port', '0'],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await once(lines, 'line')) as [string];
  const ready = JSON.parse(first) as { message: string; endpoint: string; port: number };
  t.is(ready.message, 'Cloud Scheduler stand-in ready');
  t.regex(ready.endpoint, /^127\.0\.0\.1:\d+$/);

  const client = createSchedulerClient(ready.endpoint);
  const parent = 'projects/cli/locations/local';
  const http = await target(t);
  const [job] = await client.createJob({ parent, job: httpJob(parent, 'cli', http.uri) });
  t.is(job.state, 'ENABLED');
  await client.close();

  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.is(code, 0);
});
