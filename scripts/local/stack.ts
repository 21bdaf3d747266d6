// The local cloud wired into the whole pipeline: emulators, BigQuery stand-in, exchange simulator,
// writer (functions-framework) and relay as child processes, and the push subscription between them.
// Used by the system tests, `npm start`, the chaos runner and the end-to-end benchmark.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { Firestore } from '@google-cloud/firestore';
import type { BigQuery } from '@google-cloud/bigquery';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { BigQueryWarehouse } from '../../functions/adapters/bigquery/warehouse.ts';
import { FirestoreCheckpointStore } from '../../functions/adapters/firestore/checkpoint-store.ts';
import { systemClock } from '../../functions/core/ports.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import { isolatedTopology, type Topology } from '../../functions/core/contract/topology.ts';
import { startBigQueryStandin, type BigQueryStandin } from './bigquery/server.ts';
import { startStandinProcess, type StandinEndpoint } from './bigquery/standin-process.ts';
import { startEmulators, type Emulators } from './emulators.ts';
import { startSimulator, type Simulator } from './exchange/simulator.ts';
import { startHistoryServer, type HistoryServer } from './exchange/history-server.ts';
import { FirestoreGapLedger } from '../../functions/adapters/firestore/gap-ledger.ts';
import type { GapfillRun } from '../../functions/core/gapfill/gapfill-service.ts';
import { freePort } from './free-port.ts';
import { startSchedulerStandin, type SchedulerStandin } from './scheduler/server.ts';
import { signalGroup } from './process-group.ts';
import { httpOk, logPath, ServiceProcess } from './service.ts';
import { streamsConfigOf, type ExchangeStreams } from './stream-mix.ts';
import { fleetRelayEnv, fleetCollections, type LocalFleet, type LocalFleetOptions } from './relay-fleet.ts';
import { startTcpProxy } from './tcp-proxy.ts';

export interface StackOptions {
  /** Makes every resource name unique ([a-z0-9_]). */
  readonly suffix: string;
  readonly seed: number;
  /** Ticks per second per symbol per data type at the simulator. */
  readonly ratePerSymbol: number;
  /** Binance symbols and types to record when `streams` is not given (types default: trade). */
  readonly symbols?: readonly string[];
  readonly types?: readonly DataType[];
  /** Exchanges, symbols and types to record (a mix: scripts/local/stream-mix.ts); overrides `symbols`. */
  readonly streams?: readonly ExchangeStreams[];
  readonly projectId?: string;
  /** Logs and DuckDB file go here (default: a new temp dir). */
  readonly workDir?: string;
  /** Persist the BigQuery stand-in to this DuckDB file (default: in memory). */
  readonly bigqueryDbPath?: string;
  /** Use running emulators (host:port) instead of starting a pair. */
  readonly emulators?: { readonly pubsub: string; readonly firestore: string };
  readonly relayEnv?: Readonly<Record<string, string>>;
  /**
   * Relays to run (default 1: one relay holding every stream, no fleet). From 2 on (or with `fleet`),
   * each is a fleet member (RELAY_FLEET=on) with its own id (relay-1, relay-2...), port and log.
   */
  readonly relays?: number;
  readonly fleet?: LocalFleetOptions;
  readonly writerEnv?: Readonly<Record<string, string>>;
  /** Start the relay right away (default true). */
  readonly startRelay?: boolean;
  /** Run the gap-filler (and the Tardis-compatible history server it backfills from). */
  readonly gapfill?: {
    readonly settleMs?: number;
    readonly availabilityDelayMs?: number;
    readonly attemptTimeoutMs?: number;
    readonly retryBaseMs?: number;
    readonly env?: Readonly<Record<string, string>>;
  };
  /**
   * Run a Cloud Scheduler stand-in with a job (created with the real client, mirroring
   * infra/modules/scheduler) that POSTs to the gap-filler every `periodMs` (default: its cron, every
   * minute). Needs `gapfill`.
   */
  readonly scheduler?: { readonly periodMs?: number };
  /**
   * Connect the relay to the real exchanges (tardis-dev's default endpoints) and backfill from the real
   * Tardis.dev API (TARDIS_API_KEY from this process's environment) instead of the simulator and the
   * local history server. The simulator still runs but nothing reads it; there is no ground truth.
   */
  readonly live?: boolean;
}

export interface Stack {
  readonly projectId: string;
  readonly topology: Topology;
  readonly workDir: string;
  readonly hosts: { readonly pubsub: string; readonly firestore: string };
  readonly bigquery: BigQueryStandin;
  readonly bigqueryClient: BigQuery;
  readonly warehouse: BigQueryWarehouse;
  readonly checkpoints: FirestoreCheckpointStore;
  readonly simulator: Simulator;
  readonly writer: ServiceProcess;
  /** The first relay (the only one without a fleet). */
  readonly relay: ServiceProcess;
  /** Every relay started, in order (addRelay appends); their health URLs at the same index. */
  readonly relays: ServiceProcess[];
  readonly relayHealthUrls: string[];
  /** The fleet's collections and options; undefined when one relay runs without a fleet. */
  readonly fleet: LocalFleet | undefined;
  /** Starts one more fleet member (scale-out); resolves once it is ready. */
  addRelay(): Promise<ServiceProcess>;
  readonly pubsub: PubSub;
  readonly firestore: Firestore;
  readonly writerUrl: string;
  readonly relayHealthUrl: string;
  readonly streamsConfig: string;
  /** What the relay records, by exchange. */
  readonly streams: readonly ExchangeStreams[];
  /** Present when the stack runs the gap-filler. */
  readonly history: HistoryServer | undefined;
  readonly gapfill: ServiceProcess | undefined;
  readonly ledger: FirestoreGapLedger;
  /** Runs the gap-filler once (as Cloud Scheduler would) and returns its summary. */
  runGapfill(): Promise<GapfillRun>;
  /** Present when the stack runs the scheduler stand-in (StackOptions.scheduler). */
  readonly scheduler: SchedulerStandin | undefined;
  /** Full name of the scheduler job that calls the gap-filler. */
  readonly schedulerJob: string | undefined;
  /** The deployables' environment for this stack: what `npm run ops` reads (SCHEDULER_* included). */
  readonly opsEnv: Readonly<Record<string, string>>;
  /** The stack's own emulator pair; undefined when it uses running ones (StackOptions.emulators). */
  readonly emulators: Emulators | undefined;
  /**
   * Suspends (SIGSTOP) one of the stack's own emulators: it stops answering, as an unreachable service
   * would, but keeps its in-memory topics, subscriptions and documents (a restart would lose them).
   */
  freezeEmulator(kind: 'pubsub' | 'firestore'): void;
  /** Resumes (SIGCONT) an emulator frozen by freezeEmulator; safe to call when it is not frozen. */
  thawEmulator(kind: 'pubsub' | 'firestore'): void;
  stop(): Promise<void>;
}

/**
 * A Firestore client for the emulator at `host`. The client lets FIRESTORE_EMULATOR_HOST override any host
 * it is given, so inside `npm test` (which exports the shared emulator's host) a stack with its own pair
 * would otherwise read and write the shared emulator while its services use their own.
 */
function firestoreAt(projectId: string, host: string): Firestore {
  const saved = process.env.FIRESTORE_EMULATOR_HOST;
  process.env.FIRESTORE_EMULATOR_HOST = host;
  try {
    return new Firestore({ projectId, host, ssl: false });
  } finally {
    if (saved === undefined) delete process.env.FIRESTORE_EMULATOR_HOST;
    else process.env.FIRESTORE_EMULATOR_HOST = saved;
  }
}

/** `{PREFIX_<EXCHANGE>: url}`, the exchange upper case with dashes as underscores (`WSS_URL_BINANCE_FUTURES`). */
function perExchangeEnv(prefix: string, urls: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(urls).map(([exchange, url]) => [
      `${prefix}_${exchange.toUpperCase().replace(/-/g, '_')}`,
      url,
    ]),
  );
}

const FUNCTIONS_FRAMEWORK = 'node_modules/@google-cloud/functions-framework/build/src/main.js';

/** A stack whose stand-in runs in its own process: only its addresses are at hand (faults and stats over HTTP). */
export type StackWithStandinProcess = Omit<Stack, 'bigquery'> & { readonly bigquery: StandinEndpoint };

/**
 * `standinProcess: true` runs the BigQuery stand-in in a process of its own (by default it runs in this process,
 * where tests set its faults and read its stats directly): for load benches, whose process runs the simulator.
 */
export function startStack(
  options: StackOptions & { standinProcess: true },
): Promise<StackWithStandinProcess>;
export function startStack(options: StackOptions): Promise<Stack>;
export async function startStack(
  options: StackOptions & { standinProcess?: boolean },
): Promise<Stack | StackWithStandinProcess> {
  // Local clients must never probe the GCE metadata server (it does not exist here and the probe is slow).
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const projectId = options.projectId ?? 'tickstream-local';
  const topology = isolatedTopology(options.suffix);
  const streams: readonly ExchangeStreams[] = options.streams ?? [
    {
      exchange: 'binance',
      symbols: (options.symbols ?? []).map((s) => s.toLowerCase()),
      types: options.types ?? ['trade'],
    },
  ];
  // The simulator and the history server play every symbol of every exchange (each on its own exchange).
  const allSymbols = [...new Set(streams.flatMap((m) => m.symbols))];
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), `tickstream-${options.suffix}-`));
  mkdirSync(workDir, { recursive: true });
  // Holds this process's event loop open until stop(): gRPC clients wait out backoff on unref'd timers, and with
  // the stand-in in another process nothing else may be listening here meanwhile.
  const keepAlive = setInterval(() => undefined, 60_000);
  const cleanup: (() => Promise<unknown>)[] = [async () => clearInterval(keepAlive)];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup.length = 0;
  };

  try {
    let emulators: Emulators | undefined;
    let hosts = options.emulators;
    if (!hosts) {
      emulators = await startEmulators({ projectId });
      // A frozen (SIGSTOPped) JVM would sit out SIGTERM until SIGKILL: resume it before stopping.
      cleanup.push(() => {
        for (const kind of ['pubsub', 'firestore'] as const) signalGroup(emulators![kind].pid, 'SIGCONT');
        return emulators!.stop();
      });
      hosts = { pubsub: emulators.pubsub.host, firestore: emulators.firestore.host };
    }
    const dbPath = options.bigqueryDbPath ? { dbPath: options.bigqueryDbPath } : {};
    const bigquery: StandinEndpoint = options.standinProcess
      ? await startStandinProcess({ projectId, workDir, ...dbPath })
      : await startBigQueryStandin({ projectId, ...dbPath });
    cleanup.push(() => bigquery.stop());
    const bigqueryClient = createBigQueryClient(projectId, bigquery.url);
    await ensureWarehouse(bigqueryClient, projectId, topology.dataset);

    const simulator = await startSimulator({
      seed: options.seed,
      ratePerSymbol: options.ratePerSymbol,
      symbols: allSymbols,
    });
    cleanup.push(() => simulator.stop());

    const pubsub = new PubSub({ projectId, apiEndpoint: hosts.pubsub, emulatorMode: true });
    cleanup.push(() => pubsub.close());
    const firestore = firestoreAt(projectId, hosts.firestore);
    cleanup.push(() => firestore.terminate());

    const common = {
      GOOGLE_CLOUD_PROJECT: projectId,
      GCLOUD_PROJECT: projectId,
      PUBSUB_EMULATOR_HOST: hosts.pubsub,
      FIRESTORE_EMULATOR_HOST: hosts.firestore,
      METADATA_SERVER_DETECTION: 'none',
      LOG_LEVEL: 'INFO',
    };

    const writerPort = await freePort();
    const writerUrl = `http://127.0.0.1:${writerPort}/`;
    const writer = new ServiceProcess({
      name: 'writer',
      args: [
        FUNCTIONS_FRAMEWORK,
        '--target=writer',
        '--source=functions/writer/index.ts',
        `--port=${writerPort}`,
      ],
      env: {
        ...common,
        BIGQUERY_API_ENDPOINT: bigquery.url,
        BIGQUERY_STORAGE_EMULATOR_HOST: bigquery.storageHost,
        BIGQUERY_DATASET: topology.dataset,
        CHECKPOINTS_COLLECTION: topology.checkpoints,
        PUSH_AUTH: 'off', // the emulator's push carries no token
        ...options.writerEnv,
      },
      logPath: logPath(workDir, 'writer'),
      ready: () => httpOk(writerUrl, (status) => status === 405),
    });
    await writer.start();
    cleanup.push(() => writer.terminate());

    const [topic] = await pubsub.createTopic(topology.topic);
    await topic.createSubscription(topology.pushSubscription, {
      pushConfig: { pushEndpoint: writerUrl },
      ackDeadlineSeconds: 60,
    });

    const streamsConfig = streamsConfigOf(streams);
    // Completed with the gap-filler's and the scheduler's variables when they run.
    const opsEnv: Record<string, string> = {
      ...common,
      RELAY_STREAMS: streamsConfig,
      BIGQUERY_API_ENDPOINT: bigquery.url,
      BIGQUERY_STORAGE_EMULATOR_HOST: bigquery.storageHost,
      BIGQUERY_DATASET: topology.dataset,
      CHECKPOINTS_COLLECTION: topology.checkpoints,
      GAPS_COLLECTION: topology.gaps,
      LEASES_COLLECTION: topology.leases,
    };
    const relayCount = options.relays ?? 1;
    const fleet: LocalFleet | undefined =
      relayCount > 1 || options.fleet
        ? {
            ...fleetCollections(options.suffix),
            leaseMs: options.fleet?.leaseMs ?? 5000,
            proxy: options.fleet?.firestoreProxy ? await startTcpProxy(hosts.firestore) : undefined,
          }
        : undefined;
    if (fleet?.proxy) cleanup.push(() => fleet.proxy!.close());
    if (fleet) {
      // What `ops fleet` reads: the collections, the lease and the shard plan (not a member's own id).
      const { MEMBERS_COLLECTION, SHARDS_COLLECTION, RELAY_FLEET_LEASE_MS, RELAY_FLEET_MIN_SHARDS } =
        fleetRelayEnv(fleet, options.fleet ?? {}, 0);
      Object.assign(opsEnv, {
        MEMBERS_COLLECTION,
        SHARDS_COLLECTION,
        RELAY_FLEET_LEASE_MS,
        RELAY_FLEET_MIN_SHARDS,
      });
    }
    const relays: ServiceProcess[] = [];
    const relayHealthUrls: string[] = [];
    const makeRelay = async (index: number): Promise<ServiceProcess> => {
      const relayPort = await freePort();
      const healthUrl = `http://127.0.0.1:${relayPort}`;
      const relay = new ServiceProcess({
        name: fleet ? `relay-${index + 1}` : 'relay',
        args: ['functions/relay/main.ts'],
        env: {
          ...common,
          RELAY_STREAMS: streamsConfig,
          TICKS_TOPIC: topology.topic,
          ...(options.live
            ? {}
            : {
                // tardis-dev's websocket override per simulated exchange, and the REST the feeds call
                // (Binance depth snapshots...) where the simulator serves it.
                ...perExchangeEnv('WSS_URL', simulator.wsUrls),
                ...perExchangeEnv('REST_URL', simulator.restUrls),
              }),
          // The relay reads checkpoints at start and records startup gaps in the run's own ledger.
          CHECKPOINTS_COLLECTION: topology.checkpoints,
          GAPS_COLLECTION: topology.gaps,
          HEARTBEATS_COLLECTION: topology.heartbeats,
          PORT: String(relayPort),
          ...(fleet ? fleetRelayEnv(fleet, options.fleet ?? {}, index) : {}),
          ...options.relayEnv,
        },
        logPath: logPath(workDir, fleet ? `relay-${index + 1}` : 'relay'),
        // Live, the exchange may be unreachable: the relay is up once its health server answers at all
        // (the status lines then show it not ready); against the simulator it must be subscribed.
        ready: () => httpOk(`${healthUrl}/readyz`, (status) => (options.live ? status > 0 : status === 200)),
        // Every stream of the mix must prove its subscription with data, the sparse ones (a liquidation every
        // few seconds) and Binance's book (a REST snapshot first) included: more than the default 30 s on a
        // loaded 2-core machine.
        readyTimeoutMs: 60_000,
      });
      relays[index] = relay;
      relayHealthUrls[index] = healthUrl;
      return relay;
    };
    // A port free a moment ago can be taken before the relay binds it (freePort): try another.
    const startRelay = async (index: number): Promise<ServiceProcess> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await relays[index]!.start();
          return relays[index]!;
        } catch (error) {
          if (attempt >= 3 || !String(error).includes('EADDRINUSE')) throw error;
          await makeRelay(index);
        }
      }
    };
    // All at once: one by one, each would hand its shards to the next one stopping.
    cleanup.push(() => Promise.all(relays.map((r) => r.terminate())));
    for (let i = 0; i < relayCount; i++) await makeRelay(i);
    // Started together: members join within one renewal of each other, so shards settle once.
    if (options.startRelay !== false) await Promise.all(relays.map((_, i) => startRelay(i)));
    const relay = relays[0]!;
    const relayHealthUrl = relayHealthUrls[0]!;

    let history: HistoryServer | undefined;
    let gapfill: ServiceProcess | undefined;
    let gapfillUrl = '';
    if (options.gapfill) {
      let tardis: Record<string, string>;
      if (options.live) {
        // The real Tardis.dev API at the gap-filler's default endpoint, with the caller's key if any.
        tardis = process.env.TARDIS_API_KEY ? { TARDIS_API_KEY: process.env.TARDIS_API_KEY } : {};
      } else {
        const apiKey = `local-${options.suffix}`;
        const h = await startHistoryServer({
          seed: options.seed,
          ratePerSymbol: options.ratePerSymbol,
          symbols: allSymbols,
          apiKey,
          availabilityDelayMs: options.gapfill.availabilityDelayMs ?? 0,
        });
        history = h;
        cleanup.push(() => h.stop());
        tardis = {
          NODE_EXTRA_CA_CERTS: h.certPath,
          TARDIS_API_ENDPOINT: h.endpoint,
          TARDIS_API_KEY: apiKey,
        };
      }
      const gapfillPort = await freePort();
      gapfillUrl = `http://127.0.0.1:${gapfillPort}/`;
      gapfill = new ServiceProcess({
        name: 'gapfill',
        args: [
          FUNCTIONS_FRAMEWORK,
          '--target=gapfill',
          '--source=functions/gapfill/index.ts',
          `--port=${gapfillPort}`,
        ],
        env: {
          ...common,
          ...tardis,
          RELAY_STREAMS: streamsConfig,
          BIGQUERY_API_ENDPOINT: bigquery.url,
          BIGQUERY_STORAGE_EMULATOR_HOST: bigquery.storageHost,
          BIGQUERY_DATASET: topology.dataset,
          CHECKPOINTS_COLLECTION: topology.checkpoints,
          GAPS_COLLECTION: topology.gaps,
          LEASES_COLLECTION: topology.leases,
          GAPFILL_SETTLE_MS: String(options.gapfill.settleMs ?? 3000),
          // Live, Tardis's own publication delay applies (the gap-filler's default).
          ...(options.live
            ? {}
            : { GAPFILL_AVAILABILITY_DELAY_MS: String(options.gapfill.availabilityDelayMs ?? 0) }),
          GAPFILL_ATTEMPT_TIMEOUT_MS: String(options.gapfill.attemptTimeoutMs ?? 20_000),
          GAPFILL_RETRY_BASE_MS: String(options.gapfill.retryBaseMs ?? 1000),
          ...options.gapfill.env,
        },
        logPath: logPath(workDir, 'gapfill'),
        ready: () => httpOk(gapfillUrl, (status) => status === 405),
      });
      await gapfill.start();
      const g = gapfill;
      cleanup.push(() => g.terminate());
      Object.assign(opsEnv, gapfill.spec.env);
    }

    let scheduler: SchedulerStandin | undefined;
    let schedulerJob: string | undefined;
    if (options.scheduler) {
      if (!gapfillUrl) throw new Error('StackOptions.scheduler needs StackOptions.gapfill');
      const parent = `projects/${projectId}/locations/local`;
      const job = `${parent}/jobs/gapfill-${options.suffix}`.replace(/[^A-Za-z0-9_/-]/g, '_');
      const periodMs = options.scheduler.periodMs;
      const standin = await startSchedulerStandin(periodMs ? { periodMs: { [job]: periodMs } } : {});
      scheduler = standin;
      schedulerJob = job;
      cleanup.push(() => standin.stop());
      const client = standin.client();
      try {
        await client.createJob({
          parent,
          job: {
            name: job,
            description: 'tickstream: find and backfill coverage holes',
            schedule: '* * * * *',
            timeZone: 'Etc/UTC',
            attemptDeadline: { seconds: 300 },
            retryConfig: {
              retryCount: 2,
              minBackoffDuration: { seconds: 10 },
              maxBackoffDuration: { seconds: 60 },
              maxDoublings: 2,
            },
            httpTarget: {
              uri: gapfillUrl,
              httpMethod: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: Buffer.from(JSON.stringify({ trigger: 'scheduler' })),
              oidcToken: { serviceAccountEmail: `scheduler-invoker@${projectId}.iam.gserviceaccount.com` },
            },
          },
        });
      } finally {
        await client.close();
      }
      Object.assign(opsEnv, {
        SCHEDULER_JOB: job,
        SCHEDULER_API_ENDPOINT: `${standin.endpoint.host}:${standin.endpoint.port}`,
      });
    }

    return {
      projectId,
      topology,
      workDir,
      hosts,
      bigquery,
      bigqueryClient,
      warehouse: new BigQueryWarehouse(bigqueryClient, topology.dataset),
      checkpoints: new FirestoreCheckpointStore(firestore, topology.checkpoints, systemClock),
      simulator,
      writer,
      relay,
      relays,
      relayHealthUrls,
      fleet,
      async addRelay() {
        if (!fleet) throw new Error('addRelay needs a fleet (StackOptions.relays > 1 or fleet)');
        const index = relays.length;
        await makeRelay(index);
        return startRelay(index);
      },
      pubsub,
      firestore,
      writerUrl,
      relayHealthUrl,
      streamsConfig,
      streams,
      history,
      gapfill,
      ledger: new FirestoreGapLedger(firestore, topology.gaps),
      async runGapfill() {
        if (!gapfillUrl) throw new Error('this stack runs no gap-filler (StackOptions.gapfill)');
        const res = await fetch(gapfillUrl, { method: 'POST', signal: AbortSignal.timeout(300_000) });
        const body = (await res.json()) as GapfillRun & { error?: string };
        if (!res.ok)
          throw new Error(`gap-filler run failed (${res.status}): ${body.error ?? JSON.stringify(body)}`);
        return body;
      },
      scheduler,
      schedulerJob,
      opsEnv,
      stop: stopAll,
      emulators,
      freezeEmulator(kind) {
        if (!emulators) throw new Error('freezeEmulator needs the stack to start its own emulators');
        signalGroup(emulators[kind].pid, 'SIGSTOP');
      },
      thawEmulator(kind) {
        if (emulators) signalGroup(emulators[kind].pid, 'SIGCONT');
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
