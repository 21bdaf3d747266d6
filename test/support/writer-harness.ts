// The real writer (functions-framework child process) between the BigQuery stand-in (in this process,
// with fault injection) and the Firestore emulator, fed by a real Pub/Sub push subscription from the
// emulator or by direct push POSTs. Each harness has its own dataset, collection, topic and port.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BigQuery } from '@google-cloud/bigquery';
import { Firestore } from '@google-cloud/firestore';
import { PubSub, type Subscription, type Topic } from '@google-cloud/pubsub';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { BigQueryWarehouse } from '../../functions/adapters/bigquery/warehouse.ts';
import { FirestoreCheckpointStore } from '../../functions/adapters/firestore/checkpoint-store.ts';
import type { Batch, EncodedMessage } from '../../functions/core/contract/batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { systemClock } from '../../functions/core/ports.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { startBigQueryStandin, type BigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import { freePort } from '../../scripts/local/free-port.ts';
import { httpOk, logPath, ServiceProcess } from '../../scripts/local/service.ts';
import { requireEmulators, uniqueName } from './env.ts';

const FUNCTIONS_FRAMEWORK = 'node_modules/@google-cloud/functions-framework/build/src/main.js';

export interface WriterHarnessOptions {
  readonly name: string;
  readonly writerEnv?: Readonly<Record<string, string>>;
  /** Create a topic and a push subscription to the writer (default false: direct POSTs only). */
  readonly pushSubscription?: boolean;
  readonly ackDeadlineSeconds?: number;
  /** insertId dedup window of the stand-in (default BigQuery-like 60 s; small values show the dedup views at work). */
  readonly dedupWindowMs?: number;
  /** Put a recording proxy between the writer and the stand-in (see `insertRequests`). */
  readonly recordRequests?: boolean;
}

/** An insertAll request the writer sent, as recorded by the proxy. */
export interface RecordedInsert {
  readonly table: string;
  readonly insertIds: string[];
}

export interface PushReply {
  readonly status: number;
  readonly body: Record<string, unknown> | undefined;
}

export interface WriterHarness {
  readonly projectId: string;
  readonly dataset: string;
  readonly collection: string;
  readonly standin: BigQueryStandin;
  readonly bigquery: BigQuery;
  readonly warehouse: BigQueryWarehouse;
  readonly checkpoints: FirestoreCheckpointStore;
  readonly firestore: Firestore;
  readonly writer: ServiceProcess;
  readonly url: string;
  readonly pubsub: PubSub;
  readonly topic: Topic | undefined;
  readonly subscription: Subscription | undefined;
  readonly workDir: string;
  /** insertAll requests the writer sent (only with `recordRequests`). */
  readonly insertRequests: RecordedInsert[];
  /** POSTs a body (JSON unless a string or Buffer is given) to the writer. */
  post(body: unknown, headers?: Record<string, string>): Promise<PushReply>;
  /** `SELECT COUNT(*)`-style helper: the first column of the first row as a number. */
  scalar(sql: string): Promise<number>;
  /** `project.dataset.table` for SQL. */
  table(name: string): string;
  stop(): Promise<void>;
}

export async function startWriterHarness(options: WriterHarnessOptions): Promise<WriterHarness> {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const emulators = requireEmulators();
  const projectId = emulators.projectId;
  const base = uniqueName(options.name);
  const dataset = `ds_${base}`;
  const collection = `checkpoints_${base}`;
  const workDir = mkdtempSync(join(tmpdir(), `writer-${options.name}-`));
  const cleanup: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup.length = 0;
  };
  try {
    const standin = await startBigQueryStandin({
      projectId,
      ...(options.dedupWindowMs !== undefined ? { dedupWindowMs: options.dedupWindowMs } : {}),
    });
    cleanup.push(() => standin.stop());
    const insertRequests: RecordedInsert[] = [];
    let endpoint = standin.url;
    if (options.recordRequests) {
      const proxy = await startRecordingProxy(standin.url, insertRequests);
      cleanup.push(() => proxy.stop());
      endpoint = proxy.url;
    }
    const bigquery = createBigQueryClient(projectId, standin.url);
    await ensureWarehouse(bigquery, projectId, dataset);
    const firestore = new Firestore({ projectId, host: emulators.firestore, ssl: false });
    cleanup.push(() => firestore.terminate());
    cleanup.push(() => deleteCollection(firestore, collection));
    const pubsub = new PubSub({ projectId, apiEndpoint: emulators.pubsub, emulatorMode: true });
    cleanup.push(() => pubsub.close());

    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const writer = await startWriterProcess(port, workDir, {
      GOOGLE_CLOUD_PROJECT: projectId,
      GCLOUD_PROJECT: projectId,
      FIRESTORE_EMULATOR_HOST: emulators.firestore,
      METADATA_SERVER_DETECTION: 'none',
      BIGQUERY_API_ENDPOINT: endpoint,
      BIGQUERY_STORAGE_EMULATOR_HOST: standin.storageHost,
      BIGQUERY_DATASET: dataset,
      CHECKPOINTS_COLLECTION: collection,
      LOG_LEVEL: 'INFO',
      PUSH_AUTH: 'off',
      ...options.writerEnv,
    });
    cleanup.push(() => writer.terminate(2000));

    const { topic, subscription } = options.pushSubscription
      ? await createPushSubscription(pubsub, base, url, options.ackDeadlineSeconds ?? 60, cleanup)
      : { topic: undefined, subscription: undefined };

    const table = (name: string) => `\`${projectId}.${dataset}.${name}\``;
    return {
      projectId,
      dataset,
      collection,
      standin,
      bigquery,
      warehouse: new BigQueryWarehouse(bigquery, dataset),
      checkpoints: new FirestoreCheckpointStore(firestore, collection, systemClock),
      firestore,
      writer,
      url,
      pubsub,
      topic,
      subscription,
      workDir,
      insertRequests,
      post: (body, headers) => postPush(url, body, headers),
      scalar: (sql) => firstValue(bigquery, sql),
      table,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The first column of the first row a query returns, as a number (NaN when there is no row). */
async function firstValue(bigquery: BigQuery, sql: string): Promise<number> {
  const [rows] = await bigquery.query({ query: sql, useLegacySql: false });
  const first = (rows as Record<string, unknown>[])[0];
  return Number(first ? Object.values(first)[0] : NaN);
}

/** Starts the writer function under functions-framework on `port`; resolves once it answers. */
async function startWriterProcess(
  port: number,
  workDir: string,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  const url = `http://127.0.0.1:${port}/`;
  const writer = new ServiceProcess({
    name: 'writer',
    args: [FUNCTIONS_FRAMEWORK, '--target=writer', '--source=functions/writer/index.ts', `--port=${port}`],
    env,
    logPath: logPath(workDir, 'writer'),
    ready: () => httpOk(url, (status) => status === 405),
  });
  await writer.start();
  return writer;
}

/** A topic and a push subscription to `url`, removed by `cleanup` (the subscription first). */
async function createPushSubscription(
  pubsub: PubSub,
  base: string,
  url: string,
  ackDeadlineSeconds: number,
  cleanup: (() => Promise<unknown>)[],
): Promise<{ topic: Topic; subscription: Subscription }> {
  const [topic] = await pubsub.createTopic(`ticks_${base}`);
  cleanup.push(() => topic.delete());
  const [subscription] = await topic.createSubscription(`push_${base}`, {
    pushConfig: { pushEndpoint: url },
    ackDeadlineSeconds,
  });
  // Deleting the subscription first stops the emulator pushing to a writer that is going away.
  cleanup.push(() => subscription.delete());
  return { topic, subscription };
}

export async function postPush(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<PushReply> {
  const raw =
    typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: raw,
  });
  const text = await res.text();
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed };
}

/** Forwards every request to `target`, recording the insertIds of each insertAll body. */
async function startRecordingProxy(
  target: string,
  record: RecordedInsert[],
): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const insert = /\/tables\/([^/]+)\/insertAll$/.exec(req.url ?? '');
      if (insert) {
        const parsed = JSON.parse(body.toString()) as { rows: { insertId: string }[] };
        record.push({ table: decodeURIComponent(insert[1]!), insertIds: parsed.rows.map((r) => r.insertId) });
      }
      const headers = { ...req.headers };
      for (const name of ['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'])
        delete headers[name];
      fetch(`${target}${req.url}`, {
        method: req.method ?? 'GET',
        headers: headers as Record<string, string>,
        ...(body.length > 0 ? { body: new Uint8Array(body) } : {}),
      })
        .then(async (upstream) => {
          const text = await upstream.text();
          res.writeHead(upstream.status, {
            'content-type': upstream.headers.get('content-type') ?? 'application/json',
          });
          res.end(text);
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function deleteCollection(firestore: Firestore, collection: string): Promise<void> {
  const docs = await firestore.collection(collection).listDocuments();
  await Promise.all(docs.map((d) => d.delete()));
}

/** A realistic trade batch: `count` trades with ids from `firstId`, exchange time just before now. */
export function tradeBatch(
  symbol: string,
  seq: number,
  firstId: number,
  count: number,
  options: { relayId?: string; now?: number } = {},
): Batch {
  const now = options.now ?? Date.now();
  const windowTo = now - 60_000 + seq * 10;
  const ticks: TradeTick[] = Array.from({ length: count }, (_, k) => {
    const id = firstId + k;
    const ts = (windowTo - 5) * 1000 + k;
    return {
      type: 'trade',
      exchange: 'binance',
      symbol,
      id: String(id),
      price: 37_000 + (id % 1000) / 100,
      amount: 0.001 * ((id % 9) + 1),
      side: id % 2 === 0 ? 'buy' : 'sell',
      ts,
      localTs: ts + 1200,
    };
  });
  return {
    stream: { exchange: 'binance', symbol, type: 'trade' },
    relayId: options.relayId ?? 'relay-test',
    seq,
    window: { from: windowTo - 10, to: windowTo },
    ticks,
    rowIds: ticks.map(rowId),
  };
}

/** A push envelope as Pub/Sub sends it. */
export function pushEnvelope(
  message: EncodedMessage,
  messageId: string,
  subscription = 'projects/p/subscriptions/s',
) {
  return {
    message: {
      data: message.data.toString('base64'),
      attributes: message.attributes,
      messageId,
      publishTime: new Date().toISOString(),
    },
    subscription,
  };
}

export { encodeBatch };
