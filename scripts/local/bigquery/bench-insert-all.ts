// Measures insertAll throughput of the stand-in: npx tsx scripts/local/bigquery/bench-insert-all.ts
//   [--url http://127.0.0.1:PORT] [--rows 200000] [--batch 1000] [--concurrency 4]
// Without --url it starts an in-memory stand-in in this process. Prints one JSON line.
import { parseArgs } from 'node:util';
import { startBigQueryStandin } from './server.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    rows: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '4' },
  },
});
const total = Number(values.rows);
const batch = Number(values.batch);
const concurrency = Number(values.concurrency);
const project = 'bench-project';
const dataset = `bench_${process.pid}`;

const local = values.url ? undefined : await startBigQueryStandin({ projectId: project });
const base = `${values.url ?? local?.url}/bigquery/v2/projects/${project}`;

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200 || json.insertErrors) throw new Error(JSON.stringify(json).slice(0, 500));
  return json;
}

try {
  await post('/datasets', { datasetReference: { datasetId: dataset } });
  const string = (name: string) => ({ name, type: 'STRING' });
  await post(`/datasets/${dataset}/tables`, {
    tableReference: { tableId: 'trades' },
    schema: {
      fields: [
        { name: 'row_id', type: 'STRING', mode: 'REQUIRED' },
        string('exchange'),
        string('symbol'),
        { name: 'price', type: 'FLOAT64' },
        { name: 'amount', type: 'FLOAT64' },
        string('side'),
        { name: 'ts', type: 'TIMESTAMP' },
        { name: 'ingested_at', type: 'TIMESTAMP' },
        { name: 'seq', type: 'INT64' },
      ],
    },
  });
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      const first = next;
      next += batch;
      const rows = Array.from({ length: Math.min(batch, total - first) }, (_, i) => {
        const n = first + i;
        return {
          insertId: `id-${n}`,
          json: {
            row_id: `binance:btcusdt:${n}`,
            exchange: 'binance',
            symbol: 'btcusdt',
            price: 37000 + n / 100,
            amount: 0.005,
            side: n % 2 ? 'buy' : 'sell',
            ts: new Date(1_700_000_000_000 + n).toISOString(),
            ingested_at: '2023-11-14 22:13:20.123456',
            seq: n,
          },
        };
      });
      await post(`/datasets/${dataset}/tables/trades/insertAll`, { rows });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const counted = await post('/queries', {
    query: `SELECT COUNT(*) AS n FROM ${dataset}.trades`,
    useLegacySql: false,
  });
  const stored = Number((counted.rows as { f: { v: string }[] }[])[0]?.f[0]?.v);
  process.stdout.write(
    `${JSON.stringify({ rows: total, stored, seconds: Number(seconds.toFixed(2)), rowsPerSecond: Math.round(total / seconds) })}\n`,
  );
  await fetch(`${base}/datasets/${dataset}?deleteContents=true`, { method: 'DELETE' });
} finally {
  await local?.stop();
}
