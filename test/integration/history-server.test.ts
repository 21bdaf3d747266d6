import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  bookChangesBetween,
  bookSnapshotBefore,
  bookTickerBetween,
  tradesBetween,
  type BookLevel,
} from '../../scripts/local/exchange/ground-truth.ts';
import {
  startHistoryServer,
  type HistoryServer,
  type HistoryServerOptions,
} from '../../scripts/local/exchange/history-server.ts';

const REPLAY_CLI = fileURLToPath(new URL('../../scripts/local/exchange/replay-cli.ts', import.meta.url));
const FROM = '2024-03-01T00:00:00.000Z';
const TO = '2024-03-01T00:02:00.000Z';

interface Replayed {
  type: string;
  symbol?: string;
  id?: string;
  price?: number;
  amount?: number;
  side?: string;
  bidPrice?: number;
  bidAmount?: number;
  askPrice?: number;
  askAmount?: number;
  timestampMs?: number;
  localTimestampMs?: number;
  isSnapshot?: boolean;
  bids?: { price: number; amount: number }[];
  asks?: { price: number; amount: number }[];
  count?: number;
  message?: string;
}

/** Ground-truth levels as tardis-dev normalizes them. */
const levels = (list: readonly BookLevel[]) =>
  list.map(([p, q]) => ({ price: Number(p), amount: Number(q) }));

async function startServer(
  t: { teardown(fn: () => Promise<void>): void },
  options: Partial<HistoryServerOptions> = {},
): Promise<HistoryServer> {
  const server = await startHistoryServer({ seed: 11, ratePerSymbol: 20, ...options });
  t.teardown(() => server.stop());
  return server;
}

/**
 * Runs tardis-dev's real replayNormalized in a child process: NODE_EXTRA_CA_CERTS is read only at
 * process start, and trusting the test certificate there leaves TLS in this process untouched.
 */
async function replay(
  server: HistoryServer,
  args: readonly string[],
): Promise<{ code: number | null; messages: Replayed[] }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', REPLAY_CLI, '--endpoint', server.endpoint, '--from', FROM, '--to', TO, ...args],
    { env: { ...process.env, NODE_EXTRA_CA_CERTS: server.certPath }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  const messages = out
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Replayed);
  return { code, messages };
}

/** One HTTPS request trusting only the server's certificate (per request, not process-wide). */
function get(
  server: HistoryServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { ca: server.cert, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const slicePath = (from: string, offset: number, filters: unknown): string =>
  `/v1/data-feeds/binance?from=${from}&offset=${offset}&filters=${encodeURIComponent(JSON.stringify(filters))}`;

test('tardis-dev replayNormalized from the history server equals the ground truth', async (t) => {
  const server = await startServer(t, { apiKey: 'test-key' });
  const { code, messages } = await replay(server, [
    '--api-key',
    'test-key',
    '--symbols',
    'btcusdt,ethusdt',
    '--normalizers',
    'trades,bookTickers',
  ]);
  t.is(code, 0);
  t.deepEqual(messages.at(-1), { type: 'end', count: messages.length - 1 });
  const window = { from: Date.parse(FROM), to: Date.parse(TO) };
  for (const symbol of ['btcusdt', 'ethusdt']) {
    const trades = messages.filter((m) => m.type === 'trade' && m.symbol === symbol.toUpperCase());
    const truth = tradesBetween({ ...server.groundTruth(symbol), ...window });
    t.true(truth.length > 2000);
    t.deepEqual(
      trades.map((m) => [m.id, m.price, m.amount, m.side, m.timestampMs]),
      truth.map((g) => [
        String(g.id),
        Number(g.price),
        Number(g.qty),
        g.isBuyerMaker ? 'sell' : 'buy',
        g.timestamp,
      ]),
    );
    const quotes = messages.filter((m) => m.type === 'book_ticker' && m.symbol === symbol.toUpperCase());
    const quoteTruth = bookTickerBetween({ ...server.groundTruth(symbol), ...window });
    // Spot bookTicker has no event time: tardis-dev stamps it with the local timestamp (same ms here).
    t.deepEqual(
      quotes.map((m) => [m.bidPrice, m.bidAmount, m.askPrice, m.askAmount, m.timestampMs]),
      quoteTruth.map((g) => [
        Number(g.bidPrice),
        Number(g.bidQty),
        Number(g.askPrice),
        Number(g.askQty),
        g.timestamp,
      ]),
    );
  }
  // Last minute first, then the first: one request per minute slice, with lower-cased filters.
  const requests = server.requests();
  t.deepEqual(
    requests.map((r) => [r.offset, r.status]),
    [
      [1, 200],
      [0, 200],
    ],
  );
  t.deepEqual(JSON.parse(requests[0]!.filters!), [
    { channel: 'bookTicker', symbols: ['btcusdt', 'ethusdt'] },
    { channel: 'trade', symbols: ['btcusdt', 'ethusdt'] },
  ]);
});

test('order book replays start from the recorder snapshot and carry every update once', async (t) => {
  const server = await startServer(t, { symbols: ['btcusdt', 'btc-usd'] });
  const from = Date.parse(FROM);
  const minute = 60_000;
  for (const [exchange, symbol] of [
    ['binance', 'btcusdt'],
    ['coinbase', 'btc-usd'],
  ] as const) {
    const { code, messages } = await replay(server, [
      '--exchange',
      exchange,
      '--symbols',
      symbol,
      '--normalizers',
      'bookChanges',
    ]);
    t.is(code, 0);
    const truth = server.groundTruth(symbol, exchange);
    const changes = messages.filter((m) => m.type === 'book_change');
    const snapshots = changes.filter((m) => m.isSnapshot === true);
    // The simulated recorder stores a snapshot at every minute start. tardis-dev's Binance mapper uses
    // the first and ignores later ones; Coinbase's yields each. Binance spot snapshots carry no exchange
    // time, so tardis-dev stamps them with the line's local time, which is the minute start here too.
    const snapshotMinutes = exchange === 'binance' ? [from] : [from, from + minute];
    t.deepEqual(
      snapshots.map((m) => [m.timestampMs, m.localTimestampMs]),
      snapshotMinutes.map((at) => [at, at]),
      `${exchange}: snapshots`,
    );
    for (const [i, at] of snapshotMinutes.entries()) {
      const book = bookSnapshotBefore(truth, at);
      t.deepEqual([snapshots[i]!.bids, snapshots[i]!.asks], [levels(book.bids), levels(book.asks)]);
    }
    const updates = changes.filter((m) => m.isSnapshot === false);
    const expected = bookChangesBetween({ ...truth, from, to: Date.parse(TO) });
    t.true(expected.length > 2000);
    t.deepEqual(
      updates.map((m) => [m.timestampMs, m.bids, m.asks]),
      expected.map((g) => [g.timestamp, levels(g.bids), levels(g.asks)]),
      `${exchange}: every update once, in order, levels equal`,
    );
    t.is(changes[0]!.isSnapshot, true, `${exchange}: the replay opens with the snapshot`);
  }
  t.deepEqual(
    server
      .requests()
      .filter((r) => r.offset === 0)
      .map((r) => JSON.parse(r.filters!) as unknown),
    [
      [
        { channel: 'depth', symbols: ['btcusdt'] },
        { channel: 'depthSnapshot', symbols: ['btcusdt'] },
      ],
      [
        { channel: 'l2update', symbols: ['BTC-USD'] },
        { channel: 'snapshot', symbols: ['BTC-USD'] },
      ],
    ],
  );
});

test('a wrong API key gets 401 and tardis-dev fails at once without retrying', async (t) => {
  const server = await startServer(t, { apiKey: 'right-key' });
  const { code, messages } = await replay(server, ['--api-key', 'wrong-key']);
  t.is(code, 1);
  t.regex(messages.at(-1)?.message ?? '', /status code: 401/);
  t.deepEqual(server.stats().byStatus, { 401: 1 });
  const missing = await get(server, slicePath(FROM, 0, [{ channel: 'trade', symbols: ['btcusdt'] }]));
  t.is(missing.status, 401);
  t.like(JSON.parse(missing.body.toString()), { code: 401, message: 'Invalid API key' });
});

test('a 500 answer is retried by tardis-dev and the replay is still complete', async (t) => {
  const server = await startServer(t);
  server.failNext(1, 500);
  const { code, messages } = await replay(server, []);
  t.is(code, 0);
  const trades = messages.filter((m) => m.type === 'trade');
  const truth = tradesBetween({
    ...server.groundTruth('btcusdt'),
    from: Date.parse(FROM),
    to: Date.parse(TO),
  });
  t.deepEqual(
    trades.map((m) => m.id),
    truth.map((g) => String(g.id)),
  );
  t.deepEqual(server.stats().byStatus, { 200: 2, 500: 1 });
  t.deepEqual(
    server.requests().map((r) => [r.offset, r.status]),
    [
      [1, 500],
      [1, 200],
      [0, 200],
    ],
  );
});

test('a slice is gzip of 28-char local timestamps and combined-stream frames, cut by minute', async (t) => {
  const gapFrom = Date.parse('2024-03-01T00:00:20.000Z');
  const server = await startServer(t, { recorderGaps: [{ from: gapFrom, to: gapFrom + 5000 }] });
  const res = await get(server, slicePath(FROM, 0, [{ channel: 'trade', symbols: ['BTCUSDT'] }]));
  t.is(res.status, 200);
  t.is(res.headers['content-encoding'], 'gzip');
  const lines = gunzipSync(res.body).toString('utf8').split('\n');
  t.is(lines.pop(), '', 'the body ends with a newline');
  const empty = lines.indexOf('');
  t.true(empty > 0, 'a recorder gap is an empty line (a disconnect)');
  const data = lines.filter((l) => l.length > 0);
  for (const line of data) {
    t.regex(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z \{"stream":"btcusdt@trade","data":\{"e":"trade"/);
  }
  const ids = data.map((l) => (JSON.parse(l.slice(29)) as { data: { t: number; T: number } }).data);
  const truth = tradesBetween({
    ...server.groundTruth('btcusdt'),
    from: Date.parse(FROM),
    to: Date.parse(FROM) + 60_000,
  });
  const expected = truth.filter((g) => g.timestamp < gapFrom || g.timestamp >= gapFrom + 5000);
  t.deepEqual(
    ids.map((d) => [d.t, d.T]),
    expected.map((g) => [g.id, g.timestamp * 1000]),
  );
  t.is((await get(server, '/v1/data-feeds/binance?from=yesterday&offset=0')).status, 400);
  t.is((await get(server, '/v1/data-feeds/binance?from=2024-03-01&offset=-1')).status, 400);
  t.is((await get(server, '/v1/data-feeds/binance?from=2024-03-01&offset=0&filters=%5B')).status, 400);
  t.is((await get(server, '/v1/data-feeds/bitmex?from=2024-03-01&offset=0')).status, 400);
});

test('data newer than the availability delay is truncated, or refused in error mode', async (t) => {
  const server = await startServer(t, { availabilityDelayMs: 30_000 });
  const now = Date.now();
  const minute = new Date(Math.floor((now - 30_000) / 60_000) * 60_000).toISOString();
  const res = await get(server, slicePath(minute, 0, [{ channel: 'trade', symbols: ['btcusdt'] }]));
  t.is(res.status, 200);
  const stamps = gunzipSync(res.body)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => Date.parse(`${l.slice(0, 23)}Z`));
  t.true(stamps.every((s) => s < Date.now() - 30_000 + 1000));
  const future = await get(
    server,
    slicePath(new Date(now + 120_000).toISOString(), 0, [{ channel: 'trade' }]),
  );
  t.is(gunzipSync(future.body).length, 0, 'a slice that has not happened yet is empty');
  server.setAvailability(30_000, 400);
  const refused = await get(server, slicePath(minute, 0, [{ channel: 'trade', symbols: ['btcusdt'] }]));
  t.is(refused.status, 400);
  t.regex(JSON.parse(refused.body.toString()).message as string, /not available yet/);
});

test('the control endpoint injects failures and latency and reports counts', async (t) => {
  const server = await startServer(t);
  const post = async (path: string, body: unknown): Promise<Response> =>
    fetch(`${server.controlUrl}/${path}`, { method: 'POST', body: JSON.stringify(body) });
  t.is((await post('fail', { count: 2, status: 503 })).status, 200);
  const path = slicePath(FROM, 0, [{ channel: 'trade', symbols: ['btcusdt'] }]);
  t.deepEqual(
    [(await get(server, path)).status, (await get(server, path)).status, (await get(server, path)).status],
    [503, 503, 200],
  );
  await post('fail-share', { share: 1 });
  t.is((await get(server, path)).status, 500);
  await post('clear', {});
  await post('latency', { ms: 200 });
  const started = Date.now();
  t.is((await get(server, path)).status, 200);
  t.true(Date.now() - started >= 190);
  const stats = (await (await fetch(`${server.controlUrl}/stats`)).json()) as {
    requests: number;
    injectedFailures: number;
  };
  t.like(stats, { requests: 5, injectedFailures: 3 });
  t.is((await post('fail-share', { share: 2 })).status, 400);
});
