// `npm run bench -- writer [--json] [--batches 400] [--batch-rows 500] [--concurrency 16] [--streams 4]
//   [--rounds 4] [--transport direct|client] [--insert-concurrency 2] [--ingest storage-write|insert-all]
//   [--profile DIR]`
// Rows per second one writer instance commits into the BigQuery stand-in, against the limit: the same
// insertAll bodies POSTed straight to the stand-in in the same run. The writer gets realistic trade
// batches as push envelopes over HTTP with bounded concurrency; it inserts the rows and a coverage row
// per batch and advances checkpoints (Firestore emulator). Prints one JSON object as the last line.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { batchId, type Batch } from '../../functions/core/contract/batch.ts';
import { encodeBatch } from '../../functions/core/contract/encode.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import { tickToRow } from '../../functions/core/contract/rows.ts';
import type { TradeTick } from '../../functions/core/model/tick.ts';
import { startStandinProcess } from '../local/bigquery/standin-process.ts';
import { startFirestoreEmulator } from '../local/emulators.ts';
import { freePort } from '../local/free-port.ts';
import { httpOk, logPath, ServiceProcess } from '../local/service.ts';

const FUNCTIONS_FRAMEWORK = 'node_modules/@google-cloud/functions-framework/build/src/main.js';
const PROJECT = 'tickstream-bench';

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      batches: { type: 'string', default: '400' },
      'batch-rows': { type: 'string', default: '500' },
      // The writer's per-instance request concurrency in the cloud (max_instance_request_concurrency).
      concurrency: { type: 'string', default: '16' },
      rounds: { type: 'string', default: '4' },
      /** The writer's insertAll transport (WRITER_INSERT_TRANSPORT): direct (default) or client. */
      transport: { type: 'string', default: 'direct' },
      /** WRITER_INSERT_CONCURRENCY: insertAll requests in flight per tick table before rows share requests. */
      'insert-concurrency': { type: 'string' },
      /** WRITER_INGEST: the API the writer stores rows with (the raw path is insertAll either way). */
      ingest: { type: 'string', default: 'storage-write' },
      /** Write a V8 CPU profile of the writer process into this directory. */
      profile: { type: 'string' },
      streams: { type: 'string', default: '4' },
    },
  });
  const batches = Number(values.batches);
  const batchRows = Number(values['batch-rows']);
  const concurrency = Number(values.concurrency);
  const streams = Number(values.streams);
  const rounds = Number(values.rounds);
  const say = (line: string) => process.stderr.write(`[bench writer] ${line}\n`);
  process.env.METADATA_SERVER_DETECTION ??= 'none';

  const workDir = mkdtempSync(join(tmpdir(), 'bench-writer-'));
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    let firestoreHost = process.env.FIRESTORE_EMULATOR_HOST;
    if (!firestoreHost) {
      const firestore = await startFirestoreEmulator({ projectId: PROJECT });
      cleanup.push(() => firestore.stop());
      firestoreHost = firestore.host;
    }

    // The stand-in in its own process, so neither the load generator nor the writer shares its CPU time.
    const standin = await startStandinProcess({ projectId: PROJECT, workDir });
    cleanup.push(() => standin.stop());
    const standinUrl = standin.url;
    const bigquery = createBigQueryClient(PROJECT, standinUrl);
    const writerDataset = `bench_writer_${process.pid}`;
    const rawDataset = `bench_raw_${process.pid}`;
    await ensureWarehouse(bigquery, PROJECT, writerDataset);
    await ensureWarehouse(bigquery, PROJECT, rawDataset);

    const writerPort = await freePort();
    const writerUrl = `http://127.0.0.1:${writerPort}/`;
    const writer = new ServiceProcess({
      name: 'writer',
      args: [
        ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : []),
        FUNCTIONS_FRAMEWORK,
        '--target=writer',
        '--source=functions/writer/index.ts',
        `--port=${writerPort}`,
      ],
      env: {
        GOOGLE_CLOUD_PROJECT: PROJECT,
        FIRESTORE_EMULATOR_HOST: firestoreHost,
        METADATA_SERVER_DETECTION: 'none',
        BIGQUERY_API_ENDPOINT: standinUrl,
        BIGQUERY_STORAGE_EMULATOR_HOST: standin.storageHost,
        WRITER_INGEST: values.ingest,
        BIGQUERY_DATASET: writerDataset,
        CHECKPOINTS_COLLECTION: `bench_checkpoints_${process.pid}`,
        LOG_LEVEL: 'WARNING',
        PUSH_AUTH: 'off',
        WRITER_INSERT_TRANSPORT: values.transport,
        ...(values['insert-concurrency'] ? { WRITER_INSERT_CONCURRENCY: values['insert-concurrency'] } : {}),
      },
      logPath: logPath(workDir, 'writer'),
      ready: () => httpOk(writerUrl, (s) => s === 405),
    });
    await writer.start();
    cleanup.push(() => writer.terminate(5000));

    const now = Date.now();
    const plan = Array.from({ length: batches }, (_, i) =>
      makeBatch(i % streams, Math.floor(i / streams), batchRows, now),
    );
    const warmup = Array.from({ length: 20 }, (_, i) => makeBatch(i % 2, i, batchRows, now, 'warm'));
    const pushes = plan.map((b, i) => pushBody(b, `m${i}`));
    const raws = plan.map((b) => insertAllBody(b, now));
    const insertUrl = (dataset: string) =>
      `${standinUrl}/bigquery/v2/projects/${PROJECT}/datasets/${dataset}/tables/trades/insertAll`;
    const totalRows = batches * batchRows;

    // Warm both paths (JIT, connections, DuckDB appenders) on rows not counted.
    await pool(
      warmup.map((b, i) => pushBody(b, `w${i}`)),
      concurrency,
      (body) => post(writerUrl, body, 200),
    );
    await pool(
      warmup.map((b) => insertAllBody(b, now)),
      concurrency,
      (body) => post(insertUrl(rawDataset), body, 200),
    );

    // Alternate the two paths in rounds, so a noisy neighbour on the machine slows both alike.
    say(
      `${batches} batches of ${batchRows} trades in ${rounds} rounds, concurrency ${concurrency}: ` +
        'raw insertAll bodies to the stand-in, then push envelopes to the writer',
    );
    let rawSeconds = 0;
    let writerSeconds = 0;
    const cpu = { writer: 0, standinDuringWriter: 0, standinDuringRaw: 0 };
    const beforeRequests = await standinInsertRequests(standinUrl);
    const beforeAppends = await standinAppendRequests(standinUrl);
    let rawRequests = 0;
    for (let r = 0; r < rounds; r++) {
      const from = Math.floor((r * batches) / rounds);
      const to = Math.floor(((r + 1) * batches) / rounds);
      let standinCpu = cpuSeconds(`--port ${standin.port}`);
      let started = performance.now();
      await pool(raws.slice(from, to), concurrency, (body) => post(insertUrl(rawDataset), body, 200));
      rawSeconds += (performance.now() - started) / 1000;
      cpu.standinDuringRaw += cpuSeconds(`--port ${standin.port}`) - standinCpu;
      rawRequests += to - from;

      standinCpu = cpuSeconds(`--port ${standin.port}`);
      const writerCpu = cpuSeconds(`--port=${writerPort}`);
      started = performance.now();
      await pool(pushes.slice(from, to), concurrency, (body) => post(writerUrl, body, 200));
      writerSeconds += (performance.now() - started) / 1000;
      cpu.standinDuringWriter += cpuSeconds(`--port ${standin.port}`) - standinCpu;
      cpu.writer += cpuSeconds(`--port=${writerPort}`) - writerCpu;
    }
    const writerRequests = (await standinInsertRequests(standinUrl)) - beforeRequests - rawRequests;
    const writerAppends = (await standinAppendRequests(standinUrl)) - beforeAppends;

    const stored = await count(bigquery, `${PROJECT}.${writerDataset}.trades`);
    const storedRaw = await count(bigquery, `${PROJECT}.${rawDataset}.trades`);
    if (stored !== totalRows || storedRaw !== totalRows) {
      throw new Error(`stored ${stored} (writer) and ${storedRaw} (raw) of ${totalRows} rows`);
    }
    const writerRate = totalRows / writerSeconds;
    const rawRate = totalRows / rawSeconds;
    const result = {
      writer_rows_per_s: Math.round(writerRate),
      raw_insertall_rows_per_s: Math.round(rawRate),
      ratio: Number((writerRate / rawRate).toFixed(3)),
      rows: totalRows,
      batch_rows: batchRows,
      batches,
      concurrency,
      streams,
      writer_seconds: Number(writerSeconds.toFixed(2)),
      raw_seconds: Number(rawSeconds.toFixed(2)),
      rounds,
      transport: values.transport,
      insert_concurrency: Number(values['insert-concurrency'] ?? 2),
      ingest: values.ingest,
      writer_insertall_requests: writerRequests,
      writer_append_requests: writerAppends,
      raw_insertall_requests: batches,
      writer_cpu_s: Number(cpu.writer.toFixed(2)),
      standin_cpu_s_writer_phase: Number(cpu.standinDuringWriter.toFixed(2)),
      standin_cpu_s_raw_phase: Number(cpu.standinDuringRaw.toFixed(2)),
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? 'unknown',
      node: process.version,
    };
    if (!values.json) {
      say(
        `writer ${result.writer_rows_per_s} rows/s, raw insertAll ${result.raw_insertall_rows_per_s} rows/s, ` +
          `ratio ${result.ratio} (writer sent ${writerRequests} insertAll requests for ${batches} batches)`,
      );
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } finally {
    // Children are unref'd: keep this process alive until they are gone.
    const keepAlive = setInterval(() => undefined, 1000);
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    clearInterval(keepAlive);
  }
}

/** Batch `seq` of stream `stream` (symbols sym0usdt, sym1usdt, ...): `rows` trades with consecutive ids. */
function makeBatch(stream: number, seq: number, rows: number, now: number, prefix = 'sym'): Batch {
  const symbol = `${prefix}${stream}usdt`;
  const windowTo = now - 120_000 + seq * 100;
  const ticks: TradeTick[] = Array.from({ length: rows }, (_, k) => {
    const id = seq * rows + k + 1;
    const ts = (windowTo - 100) * 1000 + k * 97;
    return {
      type: 'trade',
      exchange: 'binance',
      symbol,
      id: String(id),
      price: 37_000 + (id % 5000) / 100,
      amount: 0.0001 * ((id % 97) + 1),
      side: id % 3 === 0 ? 'sell' : 'buy',
      ts,
      localTs: ts + 1_234,
    };
  });
  return {
    stream: { exchange: 'binance', symbol, type: 'trade' },
    relayId: 'relay-bench',
    seq,
    window: { from: windowTo - 100, to: windowTo },
    ticks,
    rowIds: ticks.map(rowId),
  };
}

function pushBody(batch: Batch, messageId: string): string {
  const message = encodeBatch(batch);
  return JSON.stringify({
    message: { data: message.data.toString('base64'), attributes: message.attributes, messageId },
    subscription: 'projects/tickstream-bench/subscriptions/bench',
  });
}

/** The insertAll body the writer sends for this batch's rows. */
function insertAllBody(batch: Batch, now: number): string {
  const id = batchId(batch.relayId, batch.stream, batch.seq);
  const meta = { ingestedAt: now, source: 'live' as const, relayId: batch.relayId, batchId: id };
  return JSON.stringify({
    skipInvalidRows: true,
    rows: batch.ticks.map((tick, i) => ({
      insertId: batch.rowIds[i],
      json: tickToRow(tick, batch.rowIds[i]!, meta),
    })),
  });
}

async function post(url: string, body: string, expect: number): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (res.status !== expect || text.includes('"insertErrors"')) {
    throw new Error(`POST ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  }
}

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** CPU seconds (user + system) used so far by the processes whose command line contains `marker`. */
function cpuSeconds(marker: string): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(marker)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / 100; // USER_HZ
}

async function standinInsertRequests(url: string): Promise<number> {
  const res = await fetch(`${url}/_standin/stats`);
  const stats = (await res.json()) as { byRoute: Record<string, number> };
  return stats.byRoute['tabledata.insertAll'] ?? 0;
}

async function standinAppendRequests(url: string): Promise<number> {
  const res = await fetch(`${url}/_standin/stats`);
  const stats = (await res.json()) as { ingestion: { storageWrite: { requests: number } } };
  return stats.ingestion.storageWrite.requests;
}

/** Rows of the measured batches (the warm-up ones have other symbols). */
async function count(bigquery: ReturnType<typeof createBigQueryClient>, table: string): Promise<number> {
  const [rows] = await bigquery.query({
    query: `SELECT COUNT(*) AS n FROM \`${table}\` WHERE symbol LIKE 'sym%'`,
    useLegacySql: false,
  });
  return Number((rows as { n: number }[])[0]?.n ?? 0);
}
