// A local Cloud Scheduler: the google.cloud.scheduler.v1.CloudScheduler gRPC service, loaded from the
// protos that ship with @google-cloud/scheduler, so the unmodified client talks to it on its default
// transport. Jobs with an httpTarget are executed here (see jobs.ts).
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CloudSchedulerClient } from '@google-cloud/scheduler';
import { silentLogger } from '../../../functions/core/shared/logger.ts';
import type { Logger } from '../../../functions/core/ports.ts';
import { createSchedulerClient } from './client.ts';
import { JobEngine, SchedulerApiError, type Attempt, type Job } from './jobs.ts';
import { Code } from './policy.ts';
import { errorMessage } from '../../../functions/core/shared/errors.ts';

export type { Attempt, Job } from './jobs.ts';

export interface SchedulerStandinOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Defaults to 127.0.0.1. */
  readonly host?: string;
  /**
   * Runs jobs every `periodMs` instead of on their cron schedule (Cloud Scheduler's shortest period is a
   * minute; tests and local runs want less). A number applies to every job; a record maps a job's full
   * name or its job id to a period.
   */
  readonly periodMs?: number | Readonly<Record<string, number>>;
  readonly logger?: Logger;
  /** Called after each attempt ends. */
  readonly onAttempt?: (attempt: Attempt) => void;
}

export interface SchedulerStandin {
  /** For `apiEndpoint` + `port`, or `host:port` in SCHEDULER_API_ENDPOINT. */
  readonly endpoint: { readonly host: string; readonly port: number };
  /** A new real CloudSchedulerClient connected to this stand-in; close it when done. */
  client(): CloudSchedulerClient;
  /** Every attempt of a job (the last 1,000), oldest first. */
  attempts(jobName: string): Attempt[];
  /** Sets (or with undefined removes) the period override of one job and replans it. */
  setPeriod(jobName: string, periodMs: number | undefined): void;
  /** Clears every timer, aborts attempts in flight and closes the server. Safe to call twice. */
  stop(): Promise<void>;
}

type Handler = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>) => unknown;

const PAGE_SIZE = 500;

/** The CloudScheduler service definition from the client's own protos (protos.json). */
function serviceDefinition(): grpc.ServiceDefinition {
  const require = createRequire(import.meta.url);
  const json = require('@google-cloud/scheduler/build/protos/protos.json') as Parameters<
    typeof protoLoader.fromJSON
  >[0];
  const definition = protoLoader.fromJSON(json, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { scheduler: { v1: { CloudScheduler: grpc.ServiceClientConstructor } } } };
  };
  return pkg.google.cloud.scheduler.v1.CloudScheduler.service;
}

export async function startSchedulerStandin(
  options: SchedulerStandinOptions = {},
): Promise<SchedulerStandin> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const overrides = new Map<string, number>();
  if (typeof options.periodMs === 'object') {
    for (const [key, ms] of Object.entries(options.periodMs)) overrides.set(key, ms);
  }
  const periodFor = (name: string): number | undefined =>
    overrides.get(name) ??
    overrides.get(name.split('/').pop()!) ??
    (typeof options.periodMs === 'number' ? options.periodMs : undefined);
  const engine = new JobEngine({
    logger,
    periodFor,
    ...(options.onAttempt ? { onAttempt: options.onAttempt } : {}),
  });

  const handlers: Record<string, Handler> = {
    createJob: (call) => engine.create(call.request.parent as string, call.request.job as Job),
    getJob: (call) => engine.get(call.request.name as string),
    listJobs: (call) => {
      const jobs = engine.list(call.request.parent as string);
      const size = Math.min(Math.max(Number(call.request.pageSize ?? 0), 0) || PAGE_SIZE, PAGE_SIZE);
      const token = String(call.request.pageToken ?? '');
      const offset = token === '' ? 0 : Number(Buffer.from(token, 'base64url').toString());
      if (!Number.isInteger(offset) || offset < 0) {
        throw new SchedulerApiError(Code.INVALID_ARGUMENT, `invalid page_token "${token}"`);
      }
      const end = offset + size;
      return {
        jobs: jobs.slice(offset, end),
        nextPageToken: end < jobs.length ? Buffer.from(String(end)).toString('base64url') : '',
      };
    },
    updateJob: (call) => {
      const mask = call.request.updateMask as { paths?: string[] } | undefined;
      return engine.update(call.request.job as Job, mask?.paths ?? []);
    },
    deleteJob: (call) => {
      engine.delete(call.request.name as string);
      return {};
    },
    pauseJob: (call) => engine.pause(call.request.name as string),
    resumeJob: (call) => engine.resume(call.request.name as string),
    runJob: (call) => engine.run(call.request.name as string),
  };

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, handle] of Object.entries(handlers)) {
    implementation[method] = (
      call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      try {
        callback(null, handle(call));
      } catch (error) {
        const known = error instanceof SchedulerApiError;
        if (!known) logger.log('ERROR', 'scheduler stand-in failed a request', { method, error });
        callback({
          code: known ? error.code : grpc.status.INTERNAL,
          details: errorMessage(error),
        });
      }
    };
  }

  const server = new grpc.Server();
  server.addService(serviceDefinition(), implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${host}:${options.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    );
  });

  let stopping: Promise<void> | undefined;
  return {
    endpoint: { host, port },
    client: () => createSchedulerClient(`${host}:${port}`),
    attempts: (jobName) => engine.attempts(jobName),
    setPeriod(jobName, periodMs) {
      if (periodMs === undefined) overrides.delete(jobName);
      else overrides.set(jobName, periodMs);
      engine.rearm();
    },
    stop() {
      stopping ??= (async () => {
        engine.stop();
        // Let answers in flight finish briefly, then cut whatever is left.
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 1000);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
      })();
      return stopping;
    },
  };
}
