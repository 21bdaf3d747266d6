// `ops scheduler run|pause|resume|status`: the gap-filler's Cloud Scheduler job, through the real client
// (the local stand-in when SCHEDULER_API_ENDPOINT names it).
import type { protos } from '@google-cloud/scheduler';
import { createSchedulerClient } from '../local/scheduler/client.ts';
import { Code, toMillis } from '../local/scheduler/policy.ts';
import type { SchedulerEnv } from './env.ts';
import { iso, table } from './format.ts';
import { OpsError, type Io } from './io.ts';

export type SchedulerAction = 'run' | 'pause' | 'resume' | 'status';

type Job = protos.google.cloud.scheduler.v1.IJob;

/** Bounds each call: the client would retry an unreachable endpoint for 10 minutes. */
const CALL_OPTIONS = { timeout: 30_000, maxRetries: 2 };
const CODE_NAMES = Object.fromEntries(Object.entries(Code).map(([name, code]) => [code, name]));

export function jobJson(job: Job): Record<string, unknown> {
  return {
    name: job.name,
    state: job.state,
    schedule: job.schedule,
    timeZone: job.timeZone,
    uri: job.httpTarget?.uri ?? null,
    httpMethod: job.httpTarget?.httpMethod ?? null,
    lastAttemptTime: iso(toMillis(job.lastAttemptTime)),
    scheduleTime: iso(toMillis(job.scheduleTime)),
    userUpdateTime: iso(toMillis(job.userUpdateTime)),
    status: job.status ? { code: job.status.code ?? 0, message: job.status.message ?? '' } : null,
  };
}

export async function schedulerCommand(
  action: SchedulerAction,
  args: { readonly json: boolean },
  env: SchedulerEnv,
  io: Io,
): Promise<number> {
  const client = createSchedulerClient(env.endpoint || undefined);
  const request = { name: env.job };
  try {
    let job: Job;
    try {
      if (action === 'run') [job] = await client.runJob(request, CALL_OPTIONS);
      else if (action === 'pause') [job] = await client.pauseJob(request, CALL_OPTIONS);
      else if (action === 'resume') [job] = await client.resumeJob(request, CALL_OPTIONS);
      else [job] = await client.getJob(request, CALL_OPTIONS);
    } catch (error) {
      throw new OpsError(describe(action, env.job, env.endpoint, error), { cause: error });
    }
    const view = jobJson(job);
    if (args.json) {
      io.out(JSON.stringify(view));
      return 0;
    }
    const done = { run: 'dispatched now', pause: 'paused', resume: 'resumed', status: '' }[action];
    if (done) io.out(`${env.job}: ${done}`);
    const status = view.status as { code: number; message: string } | null;
    io.out(
      table(
        ['field', 'value'],
        [
          ['state', String(view.state)],
          ['schedule', `${view.schedule} (${view.timeZone})`],
          ['target', `${view.httpMethod ?? '-'} ${view.uri ?? '-'}`],
          ['last attempt', String(view.lastAttemptTime ?? 'never')],
          [
            'last status',
            status ? `${CODE_NAMES[status.code] ?? status.code} ${status.message}`.trim() : '-',
          ],
          ['next run', String(view.scheduleTime ?? '-')],
        ],
      ),
    );
    return 0;
  } finally {
    await client.close();
  }
}

function describe(action: string, job: string, endpoint: string, error: unknown): string {
  const { code, details, message } = (error ?? {}) as { code?: number; details?: string; message?: string };
  const name = code === undefined ? 'ERROR' : (CODE_NAMES[code] ?? String(code));
  let text = `scheduler ${action} ${job} failed: ${name}: ${details || message || String(error)}`;
  if (code === Code.UNAVAILABLE || code === Code.DEADLINE_EXCEEDED) {
    text += ` (is Cloud Scheduler reachable at ${endpoint ? `SCHEDULER_API_ENDPOINT=${endpoint}` : 'its default endpoint'}?)`;
  }
  if (code === Code.NOT_FOUND) text += ' (check SCHEDULER_JOB)';
  return text;
}
