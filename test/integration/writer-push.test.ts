import test from 'ava';
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { rowId } from '../../functions/core/model/row-id.ts';
import { dedupViewSql, TABLES } from '../../functions/core/contract/schema.ts';
import type { BookChangeTick, QuoteTick } from '../../functions/core/model/tick.ts';
import {
  encodeBatch,
  pushEnvelope,
  startWriterHarness,
  tradeBatch,
  type WriterHarness,
} from '../support/writer-harness.ts';

let h: WriterHarness;

test.before(async () => {
  h = await startWriterHarness({ name: 'push', writerEnv: { WRITER_STATS_INTERVAL_MS: '1000' } });
});
test.after.always(async () => {
  await h?.stop();
});

test.serial(
  'the tick tables are day-partitioned on exchange_ts, clustered, and have dedup views',
  async (t) => {
    for (const name of ['trades', 'quotes', 'book_changes', 'derivative_tickers', 'liquidations'] as const) {
      const [meta] = await h.bigquery.dataset(h.dataset).table(name).getMetadata();
      t.deepEqual(meta.timePartitioning, { type: 'DAY', field: 'exchange_ts' }, name);
      t.deepEqual(meta.clustering, { fields: ['exchange', 'symbol'] }, name);
      const fields = (meta.schema.fields as { name: string }[]).map((f) => f.name);
      t.deepEqual(
        fields,
        TABLES[name].fields.map((f) => f.name),
        name,
      );
      for (const column of ['ingested_at', 'source', 'relay_id', 'batch_id']) t.true(fields.includes(column));
      const [view] = await h.bigquery.dataset(h.dataset).table(`${name}_dedup`).getMetadata();
      t.regex(
        view.view.query,
        'settled' in TABLES[name]
          ? // Compacted (decisions/0028): settled days plus the tail, one row per id across both.
            /_settled`\s+WHERE exchange_ts <[\s\S]*PARTITION BY exchange,\s+symbol,\s+row_id\s+ORDER BY settled DESC/
          : /QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY exchange, symbol(, exchange_ts)?, row_id ORDER BY ingested_at\) = 1/,
      );
      t.is(view.view.query, dedupViewSql(h.projectId, h.dataset, TABLES[name]));
    }
  },
);

test.serial(
  'a push is acknowledged only with its rows and coverage stored, and the body shows the counters',
  async (t) => {
    const batch = tradeBatch('btcusdt', 1, 5000, 300);
    const reply = await h.post(pushEnvelope(encodeBatch(batch), 'ok-1'));
    t.is(reply.status, 200);
    t.like(reply.body, { status: 200, outcome: 'committed', rows: 300, quarantined: 0 });
    const where = `WHERE batch_id = 'relay-test/binance:btcusdt:trade/1'`;
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')} ${where}`), 300);
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('coverage')} ${where}`), 1);
    const stats = reply.body?.stats as Record<string, unknown>;
    t.like(stats, { rowsWritten: 300, committed: 1 });
    t.true(Number((stats.insertLatency as { count: number }).count) >= 2);
    t.true('checkpointAgeMs' in (stats.checkpoints as object));

    const two = tradeBatch('btcusdt', 2, 6000, 2);
    const bad = { ...two, ticks: [two.ticks[0]!, { ...two.ticks[1]!, price: -1 }] };
    const reply2 = await h.post(pushEnvelope(encodeBatch(bad), 'ok-2'));
    t.like(reply2.body, { status: 200, outcome: 'committed', rows: 1, quarantined: 1 });
    t.like(reply2.body?.stats, { rowsWritten: 301, quarantinedRows: 1 });
  },
);

test.serial(
  'what is not a push envelope gets 4xx: wrong method, non-JSON, not an envelope, oversized',
  async (t) => {
    t.is((await fetch(h.url)).status, 405);
    t.is((await h.post('{not json')).status, 400, 'JSON that does not parse');
    t.is((await h.post('plain words', { 'content-type': 'text/plain' })).status, 400);
    t.is((await h.post([1, 2])).status, 400);
    t.is((await h.post({ message: { data: 'e30=', messageId: 'x' } })).status, 400, 'no subscription');
    const huge = JSON.stringify({
      message: { data: 'A'.repeat(17 * 1024 * 1024), messageId: 'h' },
      subscription: 's',
    });
    const reply = await h.post(huge);
    t.is(reply.status, 413);
    t.true(h.writer.running, 'the writer survives it');
    t.is((await h.post({ message: {}, subscription: 's' })).status, 200, 'and keeps serving');
  },
);

test.serial(
  'a body over the limit is refused before it is read: declared, chunked, or not JSON past the limit; a compressed one too',
  async (t) => {
    const limit = 16 * 1024 * 1024;
    const unsent = await statusOfHeadersOnly(h.url, limit + 1);
    t.is(unsent, 413, 'answered from the headers while the body is still unsent');
    const notJson = await h.post(`{"message": ${'x'.repeat(limit)}`);
    t.is(notJson.status, 413, 'not 400: the JSON parser never saw it');
    t.regex(String(notJson.body?.detail), /exceeds 16777216/);
    const chunked = await statusOfChunkedBody(h.url, limit + 1024 * 1024);
    t.is(chunked, 413, 'a body without a declared length is cut at the limit');
    const gzip = await h.post(gzipSync(JSON.stringify({ message: {}, subscription: 's' })), {
      'content-encoding': 'gzip',
    });
    t.is(gzip.status, 415);
    const refused = h.writer.logLines().filter((l) => l.includes('request body refused before reading'));
    t.true(refused.length >= 4, 'each refusal is logged');
    t.true(h.writer.running);
    t.is((await h.post({ message: {}, subscription: 's' })).status, 200, 'and it keeps serving');
  },
);

test.serial('a push sent with another content type is still read as JSON', async (t) => {
  const batch = tradeBatch('ethusdt', 1, 100, 5);
  const reply = await h.post(JSON.stringify(pushEnvelope(encodeBatch(batch), 'text-1')), {
    'content-type': 'text/plain',
  });
  t.is(reply.status, 200);
  t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')} WHERE symbol = 'ethusdt'`), 5);
});

test.serial(
  'a message near the 10 MB limit is inserted in several requests, and a big poison one quarantined in parts',
  async (t) => {
    const batch = tradeBatch('solusdt', 1, 1, 30_000);
    const message = encodeBatch(batch);
    t.true(message.data.length > 1_000_000); // v3: about 50 B per trade (v1 was over 2 MB)
    h.standin.resetStats();
    const reply = await h.post(pushEnvelope(message, 'big-1'));
    t.is(reply.status, 200);
    const stats = h.standin.stats();
    const requests = (stats.byRoute['tabledata.insertAll'] ?? 0) + stats.ingestion.storageWrite.requests;
    t.true(requests >= 7, 'at most 5,000 rows per request (insertAll or append)');
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')} WHERE symbol = 'solusdt'`), 30_000);

    const garbage = Buffer.from(`{"v":1,"t":[${'"x",'.repeat(1_500_000)}`); // truncated JSON, 6 MB
    const poison = await h.post({
      message: { data: garbage.toString('base64'), messageId: 'big-poison' },
      subscription: 's',
    });
    t.is(poison.status, 200);
    const [rows] = await h.bigquery.query({
      query: `SELECT quarantine_id, payload FROM ${h.table('quarantine_dedup')} WHERE message_id = 'big-poison' ORDER BY quarantine_id`,
      useLegacySql: false,
    });
    const parts = rows as { quarantine_id: string; payload: string }[];
    t.is(parts.length, 6);
    t.is(parts[0]?.quarantine_id, 'msg:big-poison/part-1-of-6');
    t.is(parts.map((p) => p.payload).join(''), garbage.toString());
  },
);

test.serial('the writer logs its counters as an INFO line on an interval', async (t) => {
  const deadline = Date.now() + 5000;
  let line: Record<string, unknown> | undefined;
  while (!line && Date.now() < deadline) {
    line = h.writer
      .logLines()
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })
      .filter((l) => l?.message === 'writer stats')
      .at(-1);
    if (!line) await new Promise((r) => setTimeout(r, 100));
  }
  t.is(line?.severity, 'INFO');
  t.is(line?.component, 'writer');
  const stats = line?.stats as Record<string, unknown>;
  for (const key of ['rowsWritten', 'insertRetries', 'quarantinedRows', 'insertLatency', 'checkpoints']) {
    t.true(key in stats, key);
  }
  t.true('checkpointAgeMs' in (stats.checkpoints as object));
  t.true('p99Ms' in (stats.insertLatency as object));
});

test.serial(
  '5 concurrent deliveries of one batch: insertId dedup (60 s window) and the dedup view agree',
  async (t) => {
    const message = encodeBatch(tradeBatch('dupusdt', 1, 1, 200));
    const replies = await Promise.all(
      Array.from({ length: 5 }, (_, i) => h.post(pushEnvelope(message, `dup-${i}`))),
    );
    t.true(replies.every((r) => r.status === 200));
    t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')} WHERE symbol = 'dupusdt'`), 200);
    const raw = await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades')} WHERE symbol = 'dupusdt'`);
    t.true(raw >= 200);
    t.log(
      `5 concurrent deliveries of 200 trades with BigQuery-like insertId dedup: ${raw - 200} raw duplicates`,
    );
  },
);

test.serial('quote and book change batches land in their tables', async (t) => {
  const now = Date.now();
  const ts = (now - 30_000) * 1000;
  const quotes: QuoteTick[] = [1, 2, 3].map((k) => ({
    type: 'book_ticker',
    exchange: 'binance',
    symbol: 'qbusdt',
    bidPrice: 100 + k,
    bidAmount: 1,
    askPrice: 101 + k,
    askAmount: k === 2 ? undefined : 2,
    ts: ts + k,
    localTs: ts + k + 500,
  }));
  const books: BookChangeTick[] = [1, 2].map((k) => ({
    type: 'book_change',
    exchange: 'binance',
    symbol: 'qbusdt',
    isSnapshot: k === 1,
    bids: [
      { price: 99, amount: k },
      { price: 98, amount: 0 },
    ],
    asks: k === 1 ? [{ price: 101, amount: 3 }] : [],
    ts: ts + k,
    localTs: ts + k + 700,
  }));
  for (const [type, ticks] of [
    ['book_ticker', quotes],
    ['book_change', books],
  ] as const) {
    const batch = {
      stream: { exchange: 'binance', symbol: 'qbusdt', type },
      relayId: 'relay-qb',
      seq: 1,
      window: { from: now - 31_000, to: now - 30_000 },
      ticks,
      rowIds: ticks.map(rowId),
    };
    const reply = await h.post(pushEnvelope(encodeBatch(batch), `qb-${type}`));
    t.like(reply.body, { status: 200, outcome: 'committed', rows: ticks.length, quarantined: 0 }, type);
  }
  t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('quotes_dedup')} WHERE symbol = 'qbusdt'`), 3);
  t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('quotes')} WHERE ask_amount IS NULL`), 1);
  t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('book_changes_dedup')} WHERE symbol = 'qbusdt'`), 2);
  t.is(
    await h.scalar(`SELECT SUM(ARRAY_LENGTH(bids)) FROM ${h.table('book_changes')} WHERE symbol = 'qbusdt'`),
    4,
  );
});

/** Sends only the headers of a POST declaring `length` bytes and resolves with the reply's status. */
function statusOfHeadersOnly(url: string, length: number): Promise<number> {
  return rawPost(url, `Content-Length: ${length}`, (socket) => socket.write('{'));
}

/** Sends `length` bytes in 1 MiB chunks without declaring the length; resolves with the reply's status. */
function statusOfChunkedBody(url: string, length: number): Promise<number> {
  const size = 1024 * 1024;
  const frame = Buffer.concat([
    Buffer.from(`${size.toString(16)}\r\n`),
    Buffer.alloc(size, 0x61),
    Buffer.from('\r\n'),
  ]);
  return rawPost(url, 'Transfer-Encoding: chunked', async (socket, replied) => {
    for (let sent = 0; sent < length && !replied(); sent += size) {
      const ok = socket.write(frame);
      if (!ok) await new Promise((resolve) => socket.once('drain', resolve));
    }
  });
}

/** A POST on a plain socket: the headers, then `send`; resolves with the status of the first reply. */
function rawPost(
  url: string,
  header: string,
  send: (socket: Socket, replied: () => boolean) => unknown,
): Promise<number> {
  const { hostname, port } = new URL(url);
  let status: number | undefined;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `POST / HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n${header}\r\n\r\n`,
      );
      void Promise.resolve(send(socket, () => status !== undefined)).catch(() => undefined);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no reply'));
    }, 10_000);
    socket.once('data', (data: Buffer) => {
      clearTimeout(timer);
      status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data.toString())?.[1]);
      socket.destroy();
      resolve(status);
    });
    socket.on('error', () => undefined); // the writer may close while the rest is being sent
  });
}
