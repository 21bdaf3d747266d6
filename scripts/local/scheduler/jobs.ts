// The stand-in's jobs: what Cloud Scheduler stores per job (state, status, times) and how it executes an
// HTTP target: on its schedule, never two scheduled executions of one job at once, retries per retryConfig,
// and RunJob at once (which may overlap a scheduled execution, as in Cloud Scheduler).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { protos } from '@google-cloud/scheduler';
import type { Logger } from '../../../functions/core/ports.ts';
import { CronError, parseCron, type CronSchedule } from './cron.ts';
import {
  backoffMs,
  Code,
  codeForHttpStatus,
  DEFAULT_ATTEMPT_DEADLINE_MS,
  retryPolicy,
  timestamp,
  toMillis,
  type CodeValue,
} from './policy.ts';

export type Job = protos.google.cloud.scheduler.v1.IJob;
type HttpTarget = protos.google.cloud.scheduler.v1.IHttpTarget;

/** A request the API refuses, with the gRPC status code to answer. */
export class SchedulerApiError extends Error {
  override readonly name = 'SchedulerApiError';
  constructor(
    readonly code: CodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** One HTTP attempt of a job, as the stand-in recorded it. */
export interface Attempt {
  readonly job: string;
  /** `schedule`: the job's own schedule; `run`: a RunJob call. */
  readonly trigger: 'schedule' | 'run';
  /** 0 for the first attempt of an execution, then 1, 2, ... for its retries. */
  readonly retry: number;
  /** When the execution was due: its schedule time, or the RunJob call. startedAt - plannedAt is timer lag. */
  readonly plannedAt: number;
  readonly startedAt: number;
  finishedAt: number | undefined;
  httpStatus: number | undefined;
  /** google.rpc.Code of the outcome; 0 is success. Undefined while in flight. */
  code: number | undefined;
  message: string;
}

export interface JobEngineOptions {
  readonly logger: Logger;
  /** A period that replaces the job's cron schedule (local runs and tests), or undefined. */
  readonly periodFor: (name: string) => number | undefined;
  readonly onAttempt?: (attempt: Attempt) => void;
}

const PARENT = /^projects\/[^/]+\/locations\/[^/]+$/;
const JOB_NAME = /^(projects\/[^/]+\/locations\/[^/]+)\/jobs\/([A-Za-z0-9_-]{1,500})$/;
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_ATTEMPTS_KEPT = 1000;
const MAX_DEADLINE_MS = 30 * 60_000;
/** Fields UpdateJob may change, by their proto (snake_case) and JSON (camelCase) names. */
const UPDATABLE: Readonly<Record<string, keyof Job>> = {
  description: 'description',
  schedule: 'schedule',
  time_zone: 'timeZone',
  timeZone: 'timeZone',
  http_target: 'httpTarget',
  httpTarget: 'httpTarget',
  retry_config: 'retryConfig',
  retryConfig: 'retryConfig',
  attempt_deadline: 'attemptDeadline',
  attemptDeadline: 'attemptDeadline',
};
const UNSUPPORTED_TARGETS = ['pubsubTarget', 'appEngineHttpTarget'] as const;

interface Entry {
  job: Job;
  cron: CronSchedule;
  timer: NodeJS.Timeout | undefined;
  /** A scheduled execution (with its retries) is in flight: the next one waits for it. */
  scheduledRunning: boolean;
  /** The planned time of the last scheduled execution (period overrides count from it). */
  lastPlanned: number | undefined;
  /** Aborted when the job is deleted or the stand-in stops. */
  readonly abort: AbortController;
  readonly attempts: Attempt[];
}

export class JobEngine {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(private readonly options: JobEngineOptions) {}

  create(parent: string | null | undefined, input: Job | null | undefined): Job {
    if (!parent || !PARENT.test(parent)) {
      throw invalid(`parent "${parent ?? ''}" must be projects/PROJECT/locations/LOCATION`);
    }
    if (!input) throw invalid('job is required');
    const name = input.name || `${parent}/jobs/${randomBytes(8).toString('hex')}`;
    const match = JOB_NAME.exec(name);
    if (!match) {
      throw invalid(
        `job name "${name}" must be projects/PROJECT/locations/LOCATION/jobs/JOB_ID ([A-Za-z0-9_-])`,
      );
    }
    if (match[1] !== parent) throw invalid(`job name "${name}" is not under parent "${parent}"`);
    if (this.entries.has(name))
      throw new SchedulerApiError(Code.ALREADY_EXISTS, `job ${name} already exists`);
    const job: Job = {
      name,
      description: input.description ?? '',
      schedule: input.schedule ?? '',
      timeZone: input.timeZone || 'Etc/UTC',
      httpTarget: input.httpTarget ?? null,
      retryConfig: input.retryConfig ?? null,
      attemptDeadline: input.attemptDeadline ?? null,
      state: 'ENABLED',
      status: null,
      userUpdateTime: timestamp(Date.now()),
      scheduleTime: null,
      lastAttemptTime: null,
    };
    for (const target of UNSUPPORTED_TARGETS) if (input[target]) throw unsupportedTarget(target);
    const cron = validate(job);
    const entry: Entry = {
      job,
      cron,
      timer: undefined,
      scheduledRunning: false,
      lastPlanned: undefined,
      abort: new AbortController(),
      attempts: [],
    };
    this.entries.set(name, entry);
    this.arm(entry);
    this.options.logger.log('INFO', 'job created', { job: name, schedule: job.schedule });
    return snapshot(job);
  }

  get(name: string | null | undefined): Job {
    return snapshot(this.entry(name).job);
  }

  list(parent: string | null | undefined): Job[] {
    if (!parent || !PARENT.test(parent)) {
      throw invalid(`parent "${parent ?? ''}" must be projects/PROJECT/locations/LOCATION`);
    }
    return [...this.entries.values()]
      .filter((e) => e.job.name!.startsWith(`${parent}/jobs/`))
      .map((e) => snapshot(e.job))
      .sort((a, b) => (a.name! < b.name! ? -1 : 1));
  }

  update(input: Job | null | undefined, paths: readonly string[]): Job {
    const entry = this.entry(input?.name);
    for (const target of UNSUPPORTED_TARGETS) if (input![target]) throw unsupportedTarget(target);
    const fields = new Set<keyof Job>();
    if (paths.length === 0) {
      // No mask: every updatable field the request carries.
      for (const field of Object.values(UPDATABLE)) if (input![field] !== undefined) fields.add(field);
    }
    for (const path of paths) {
      const field = UPDATABLE[path.split('.')[0]!];
      if (!field) throw invalid(`update_mask path "${path}" is not an updatable field`);
      fields.add(field);
    }
    const next: Job = { ...entry.job };
    const writable = next as Record<string, unknown>;
    for (const field of fields) writable[field] = input![field] ?? null;
    if (!next.timeZone) next.timeZone = 'Etc/UTC';
    if (next.description === null) next.description = '';
    const cron = validate(next);
    next.userUpdateTime = timestamp(Date.now());
    entry.job = next;
    entry.cron = cron;
    entry.lastPlanned = undefined;
    this.arm(entry);
    this.options.logger.log('INFO', 'job updated', { job: next.name, fields: [...fields] });
    return snapshot(next);
  }

  delete(name: string | null | undefined): void {
    const entry = this.entry(name);
    clearTimeout(entry.timer);
    entry.abort.abort(new Error('job deleted'));
    this.entries.delete(entry.job.name!);
    this.options.logger.log('INFO', 'job deleted', { job: entry.job.name });
  }

  pause(name: string | null | undefined): Job {
    const entry = this.entry(name);
    if (entry.job.state !== 'ENABLED') {
      throw new SchedulerApiError(
        Code.FAILED_PRECONDITION,
        `job ${entry.job.name} is ${entry.job.state}, not ENABLED`,
      );
    }
    entry.job = { ...entry.job, state: 'PAUSED', userUpdateTime: timestamp(Date.now()) };
    this.arm(entry);
    this.options.logger.log('INFO', 'job paused', { job: entry.job.name });
    return snapshot(entry.job);
  }

  resume(name: string | null | undefined): Job {
    const entry = this.entry(name);
    if (entry.job.state !== 'PAUSED') {
      throw new SchedulerApiError(
        Code.FAILED_PRECONDITION,
        `job ${entry.job.name} is ${entry.job.state}, not PAUSED`,
      );
    }
    entry.job = { ...entry.job, state: 'ENABLED', userUpdateTime: timestamp(Date.now()) };
    entry.lastPlanned = undefined;
    this.arm(entry);
    this.options.logger.log('INFO', 'job resumed', { job: entry.job.name });
    return snapshot(entry.job);
  }

  /** Dispatches the job now, paused or not, even while a scheduled execution is in flight. */
  run(name: string | null | undefined): Job {
    const entry = this.entry(name);
    void this.execute(entry, 'run', Date.now());
    return snapshot(entry.job);
  }

  attempts(name: string): Attempt[] {
    return (this.entries.get(name)?.attempts ?? []).map((a) => ({ ...a }));
  }

  /** Replans every job's next execution (after a change of period overrides). */
  rearm(): void {
    for (const entry of this.entries.values()) {
      entry.lastPlanned = undefined;
      this.arm(entry);
    }
  }

  /** Clears every timer and aborts every attempt in flight. Safe to call twice. */
  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.abort.abort(new Error('scheduler stand-in stopped'));
    }
  }

  private entry(name: string | null | undefined): Entry {
    if (!name || !JOB_NAME.test(name)) {
      throw invalid(`job name "${name ?? ''}" must be projects/PROJECT/locations/LOCATION/jobs/JOB_ID`);
    }
    const entry = this.entries.get(name);
    if (!entry) throw new SchedulerApiError(Code.NOT_FOUND, `job ${name} not found`);
    return entry;
  }

  private live(entry: Entry): boolean {
    return !this.stopped && this.entries.get(entry.job.name!) === entry;
  }

  /** Plans the next scheduled execution, unless the job is paused or one is still in flight. */
  private arm(entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (!this.live(entry) || entry.job.state !== 'ENABLED') {
      entry.job.scheduleTime = null;
      return;
    }
    if (entry.scheduledRunning) return; // planned again when it ends
    const now = Date.now();
    const period = this.options.periodFor(entry.job.name!);
    let at: number;
    if (period !== undefined && period > 0) {
      at = (entry.lastPlanned ?? now) + period;
      while (at <= now) at += period; // missed ticks are skipped, not caught up
    } else {
      at = entry.cron.next(now);
    }
    entry.job.scheduleTime = timestamp(at);
    entry.timer = setTimeout(() => this.fire(entry, at), Math.min(Math.max(0, at - now), MAX_TIMER_MS));
  }

  private fire(entry: Entry, plannedAt: number): void {
    entry.timer = undefined;
    if (!this.live(entry)) return;
    if (Date.now() < plannedAt - 5) return this.arm(entry); // a plan beyond the longest timer
    entry.lastPlanned = plannedAt;
    entry.scheduledRunning = true;
    void this.execute(entry, 'schedule', plannedAt).finally(() => {
      entry.scheduledRunning = false;
      this.arm(entry);
    });
  }

  /** One execution: the first attempt and, while it fails, the retries its retryConfig allows. */
  private async execute(entry: Entry, trigger: Attempt['trigger'], plannedAt: number): Promise<void> {
    const policy = retryPolicy(entry.job.retryConfig);
    const startedAt = Date.now();
    for (let retry = 0; ; retry++) {
      const attempt = await this.attempt(entry, trigger, retry, plannedAt);
      if (attempt.code === Code.OK || retry >= policy.retryCount || !this.live(entry)) return;
      const wait = backoffMs(retry, policy);
      if (policy.maxRetryDurationMs > 0 && Date.now() + wait - startedAt > policy.maxRetryDurationMs) return;
      try {
        await sleep(wait, undefined, { signal: entry.abort.signal });
      } catch {
        return; // deleted or stopped
      }
    }
  }

  private async attempt(
    entry: Entry,
    trigger: Attempt['trigger'],
    retry: number,
    plannedAt: number,
  ): Promise<Attempt> {
    const job = entry.job;
    const target = job.httpTarget!;
    const record: Attempt = {
      job: job.name!,
      trigger,
      retry,
      plannedAt,
      startedAt: Date.now(),
      finishedAt: undefined,
      httpStatus: undefined,
      code: undefined,
      message: '',
    };
    entry.attempts.push(record);
    if (entry.attempts.length > MAX_ATTEMPTS_KEPT) entry.attempts.shift();
    // entry.job, not `job`: a pause or update during the attempt replaces the object.
    entry.job.lastAttemptTime = timestamp(record.startedAt);
    const deadlineMs = toMillis(job.attemptDeadline) || DEFAULT_ATTEMPT_DEADLINE_MS;
    const signal = AbortSignal.any([entry.abort.signal, AbortSignal.timeout(deadlineMs)]);
    try {
      const res = await fetch(target.uri!, { ...request(job, target, trigger, plannedAt), signal });
      const body = await res.text();
      record.httpStatus = res.status;
      record.code = codeForHttpStatus(res.status);
      record.message = res.ok ? '' : `HTTP ${res.status}: ${body.slice(0, 300)}`;
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      if (entry.abort.signal.aborted) {
        record.code = Code.CANCELLED;
        record.message = String((entry.abort.signal.reason as Error | undefined)?.message ?? 'cancelled');
      } else if (signal.aborted) {
        record.code = Code.DEADLINE_EXCEEDED;
        record.message = `no answer within the attempt deadline (${deadlineMs} ms)`;
      } else {
        record.code = Code.UNAVAILABLE;
        record.message = `${(error as Error).message}${cause ? `: ${cause}` : ''}`;
      }
    }
    record.finishedAt = Date.now();
    entry.job.status = { code: record.code, message: record.message, details: [] };
    this.options.logger.log(record.code === Code.OK ? 'INFO' : 'WARNING', 'job attempt finished', {
      job: record.job,
      trigger,
      retry,
      httpStatus: record.httpStatus ?? null,
      code: record.code,
      durationMs: record.finishedAt - record.startedAt,
      ...(record.message ? { reason: record.message } : {}),
    });
    this.options.onAttempt?.({ ...record });
    return record;
  }
}

/** The HTTP request Cloud Scheduler sends for an httpTarget (an OIDC token is not minted locally). */
function request(job: Job, target: HttpTarget, trigger: Attempt['trigger'], plannedAt: number): RequestInit {
  const method =
    !target.httpMethod || target.httpMethod === 'HTTP_METHOD_UNSPECIFIED'
      ? 'POST'
      : String(target.httpMethod);
  const headers: Record<string, string> = {
    'User-Agent': 'Google-Cloud-Scheduler',
    'X-CloudScheduler': 'true',
    'X-CloudScheduler-JobName': job.name!.split('/').pop()!,
    ...(trigger === 'schedule' ? { 'X-CloudScheduler-ScheduleTime': new Date(plannedAt).toISOString() } : {}),
    ...target.headers,
  };
  const body =
    target.body && target.body.length > 0 && !['GET', 'HEAD'].includes(method) ? target.body : undefined;
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = 'application/octet-stream';
  }
  return {
    method,
    headers,
    ...(body === undefined
      ? {}
      : { body: typeof body === 'string' ? Buffer.from(body, 'base64') : new Uint8Array(body) }),
    redirect: 'manual',
  };
}

/** Checks what CreateJob and UpdateJob check; returns the parsed schedule. */
function validate(job: Job): CronSchedule {
  if (!job.schedule) throw invalid('schedule is required (unix-cron, e.g. "* * * * *")');
  let cron: CronSchedule;
  try {
    cron = parseCron(job.schedule, job.timeZone || 'Etc/UTC');
  } catch (error) {
    if (error instanceof CronError) throw invalid(error.message);
    throw error;
  }
  const target = job.httpTarget;
  if (!target) throw invalid('an httpTarget is required (the stand-in executes HTTP targets only)');
  let uri: URL;
  try {
    uri = new URL(target.uri ?? '');
  } catch {
    throw invalid(`httpTarget.uri "${target.uri ?? ''}" is not a URL`);
  }
  if (uri.protocol !== 'http:' && uri.protocol !== 'https:') {
    throw invalid(`httpTarget.uri "${target.uri}" must be http or https`);
  }
  const retryCount = job.retryConfig?.retryCount ?? 0;
  if (retryCount < 0 || retryCount > 5) throw invalid(`retryConfig.retryCount ${retryCount} must be 0-5`);
  const deadline = toMillis(job.attemptDeadline);
  if (deadline !== undefined && (deadline <= 0 || deadline > MAX_DEADLINE_MS)) {
    throw invalid(`attemptDeadline must be positive and at most 30 minutes`);
  }
  return cron;
}

function invalid(message: string): SchedulerApiError {
  return new SchedulerApiError(Code.INVALID_ARGUMENT, message);
}

function unsupportedTarget(target: string): SchedulerApiError {
  return new SchedulerApiError(
    Code.UNIMPLEMENTED,
    `${target} jobs are not supported by the stand-in (httpTarget only)`,
  );
}

/** A copy the caller may keep: later changes to the job do not show through it. */
function snapshot(job: Job): Job {
  return structuredClone(job);
}
