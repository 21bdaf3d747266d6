import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { normalizeTrades, streamNormalized } from 'tardis-dev';
import { WebSocket } from 'ws';
import {
  bookTickerBetween,
  indexRange,
  tickSource,
  tradeIdRange,
  tradesBetween,
  tradesByIdRange,
  type GroundTruthStream,
  type Trade,
} from '../../scripts/local/exchange/ground-truth.ts';
import { startSimulator, type Simulator } from '../../scripts/local/exchange/simulator.ts';

// tardis-dev reads WSS_URL_BINANCE on every (re)connect, so tests that stream through it run serially and
// point it at a closed port afterwards: a lingering reconnect then fails instead of reaching another test.
const DEAD_WS_URL = 'ws://127.0.0.1:9/stream';

interface NormalizedTrade {
  type: 'trade';
  symbol: string;
  id: string;
  price: number;
  amount: number;
  side: 'buy' | 'sell';
  timestamp: Date;
}
interface Disconnect {
  type: 'disconnect';
}
type Message = NormalizedTrade | Disconnect;

/** Consumes a tardis-dev stream in the background and lets a test await conditions on what arrived. */
class Feed {
  readonly messages: Message[] = [];
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private readonly done: Promise<void>;

  constructor(private readonly iterator: AsyncIterableIterator<Message>) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    for await (const message of this.iterator) {
      this.messages.push(message);
      for (const check of this.waiters) check();
      if (this.closed) break;
    }
  }

  trades(symbol?: string): NormalizedTrade[] {
    return this.messages.filter(
      (m): m is NormalizedTrade => m.type === 'trade' && (symbol === undefined || m.symbol === symbol),
    );
  }

  /** Resolves when `predicate` holds for the messages so far. */
  until(what: string, predicate: (messages: readonly Message[]) => boolean, timeoutMs = 8000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        if (!predicate(this.messages)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Stops consuming; the loop ends on the next message, which stopping the simulator guarantees. */
  async close(): Promise<void> {
    this.closed = true;
    await this.done.catch(() => undefined);
  }
}

async function streamFrom(
  sim: Simulator,
  t: { teardown(fn: () => Promise<void>): void },
  timeoutIntervalMS?: number,
): Promise<Feed> {
  process.env.WSS_URL_BINANCE = sim.wsUrl;
  const feed = new Feed(
    streamNormalized(
      {
        exchange: 'binance',
        symbols: ['btcusdt', 'ethusdt'],
        withDisconnectMessages: true,
        ...(timeoutIntervalMS !== undefined ? { timeoutIntervalMS } : {}),
      },
      normalizeTrades,
    ) as AsyncIterableIterator<Message>,
  );
  t.teardown(async () => {
    process.env.WSS_URL_BINANCE = DEAD_WS_URL;
    const closing = feed.close();
    await sim.stop();
    await closing;
  });
  return feed;
}

const asIds = (trades: readonly { id: string | number }[]): number[] => trades.map((x) => Number(x.id));

function assertMatchesGroundTruth(
  t: { deepEqual(a: unknown, b: unknown, message?: string): void },
  received: readonly NormalizedTrade[],
  truth: readonly Trade[],
): void {
  t.deepEqual(
    received.map((r) => [r.id, r.price, r.amount, r.side, r.timestamp.getTime()]),
    truth.map((g) => [
      String(g.id),
      Number(g.price),
      Number(g.qty),
      g.isBuyerMaker ? 'sell' : 'buy',
      g.timestamp,
    ]),
  );
}

const isConsecutive = (ids: readonly number[]): boolean =>
  ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1);

test('ground truth is deterministic and a window equals the concatenation of its halves', (t) => {
  const stream: GroundTruthStream = { seed: 7, exchange: 'binance', symbol: 'BTCUSDT', rate: 37 };
  const from = Date.UTC(2024, 2, 1, 12, 0, 0);
  const mid = from + 23_456;
  const to = from + 60_000;
  for (const between of [tradesBetween, bookTickerBetween] as const) {
    const whole = between({ ...stream, from, to });
    t.deepEqual(whole, between({ ...stream, symbol: 'btcusdt', from: new Date(from), to: new Date(to) }));
    t.deepEqual(whole, [...between({ ...stream, from, to: mid }), ...between({ ...stream, from: mid, to })]);
    t.true(whole.every((x) => x.timestamp >= from && x.timestamp < to));
    t.true(whole.every((x, i) => i === 0 || x.timestamp > whole[i - 1]!.timestamp));
    t.true(Math.abs(whole.length - 37 * 60) <= 1);
    t.notDeepEqual(whole.slice(0, 5), between({ ...stream, seed: 8, from, to }).slice(0, 5));
  }
  const trades = tradesBetween({ ...stream, from, to });
  t.true(isConsecutive(asIds(trades)));
  t.true(
    trades.every((x) => /^\d+\.\d{2}$/.test(x.price) && /^\d+\.\d{5}$/.test(x.qty) && Number(x.qty) > 0),
  );
  const range = tradeIdRange({ ...stream, from, to });
  t.deepEqual([range.firstId, range.lastId, range.count], [trades[0]!.id, trades.at(-1)!.id, trades.length]);
  t.deepEqual(tradesByIdRange(stream, range), trades);
  // A window years after the epoch costs only its own ticks: ids come from O(1) index arithmetic.
  const late = { ...stream, from: Date.UTC(2031, 0, 1), to: Date.UTC(2031, 0, 1, 0, 0, 1) };
  const lateTrades = tradesBetween(late);
  t.is(lateTrades[0]!.id, tradeIdRange(late).firstId);
  t.is(lateTrades[0]!.id, tickSource('trade', stream).indexAtOrAfter(late.from) + 1);
  t.deepEqual(
    indexRange('trade', { ...stream, from: to, to: from }).end -
      indexRange('trade', { ...stream, from: to, to: from }).first,
    0,
  );
});

test.serial(
  'tardis-dev streamNormalized receives sequential trades that match the ground truth',
  async (t) => {
    const sim = await startSimulator({ seed: 1, ratePerSymbol: 50 });
    const feed = await streamFrom(sim, t);
    await feed.until(
      '40 trades per symbol',
      () => feed.trades('BTCUSDT').length >= 40 && feed.trades('ETHUSDT').length >= 40,
    );
    for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
      const received = feed.trades(symbol);
      t.true(isConsecutive(asIds(received)), `${symbol} ids are sequential`);
      const truth = tradesBetween({
        ...sim.groundTruth(symbol),
        from: received[0]!.timestamp,
        to: received.at(-1)!.timestamp.getTime() + 1,
      });
      assertMatchesGroundTruth(t, received, truth);
      const sent = sim.sentTrades(symbol);
      t.true(
        sent.some((r) => r.firstId <= Number(received[0]!.id) && r.lastId >= Number(received.at(-1)!.id)),
      );
    }
    t.is(sim.stats().connections, 1);
    t.is(sim.stats().subscribes, 1, 'one SUBSCRIBE for the trade channel');
  },
);

test.serial(
  'dropAll produces a tardis-dev disconnect and the client reconnects; the gap is recomputable',
  async (t) => {
    const sim = await startSimulator({ seed: 2, ratePerSymbol: 50 });
    const feed = await streamFrom(sim, t);
    await feed.until('first trades', () => feed.trades('BTCUSDT').length >= 5);
    t.is(sim.dropAll(), 1);
    await feed.until('a disconnect', (ms) => ms.some((m) => m.type === 'disconnect'));
    const cut = feed.messages.findIndex((m) => m.type === 'disconnect');
    await feed.until('trades after reconnecting', (ms) =>
      ms.slice(cut).some((m) => m.type === 'trade' && m.symbol === 'BTCUSDT'),
    );
    t.true(sim.stats().connections >= 2);
    const before = feed.messages
      .slice(0, cut)
      .filter((m): m is NormalizedTrade => m.type === 'trade' && m.symbol === 'BTCUSDT');
    const after = feed.messages
      .slice(cut)
      .filter((m): m is NormalizedTrade => m.type === 'trade' && m.symbol === 'BTCUSDT');
    t.true(isConsecutive(asIds(before)) && isConsecutive(asIds(after)));
    // What a gap-filler must backfill: the exchange trades strictly between the last before and the first after.
    const lastBefore = before.at(-1)!;
    const firstAfter = after[0]!;
    const missing = tradesBetween({
      ...sim.groundTruth('btcusdt'),
      from: lastBefore.timestamp.getTime() + 1,
      to: firstAfter.timestamp,
    });
    t.deepEqual(asIds(missing), range(Number(lastBefore.id) + 1, Number(firstAfter.id)));
    // Everything received was sent, and sent ranges are ground truth.
    for (const r of sim.sentTrades('btcusdt')) {
      t.true(tradesByIdRange(sim.groundTruth('btcusdt'), r).every((x, i) => x.id === r.firstId + i));
    }
    const sentIds = new Set(sim.sentTrades('btcusdt').flatMap((r) => range(r.firstId, r.lastId + 1)));
    t.true(asIds([...before, ...after]).every((id) => sentIds.has(id)));
  },
);

function range(first: number, end: number): number[] {
  return Array.from({ length: Math.max(0, end - first) }, (_, i) => first + i);
}

test.serial(
  'refused upgrades make tardis-dev back off and reconnect once the simulator accepts again',
  async (t) => {
    const sim = await startSimulator({ seed: 3, ratePerSymbol: 50 });
    const feed = await streamFrom(sim, t);
    await feed.until('first trades', () => feed.trades().length >= 3);
    sim.refuse(600);
    sim.dropAll();
    const droppedAt = Date.now();
    await feed.until('a disconnect', (ms) => ms.some((m) => m.type === 'disconnect'));
    const cut = feed.messages.findIndex((m) => m.type === 'disconnect');
    await feed.until('trades after the refusal', (ms) => ms.slice(cut).some((m) => m.type === 'trade'));
    t.true(sim.stats().refused >= 1, 'at least one upgrade was refused');
    t.true(Date.now() - droppedAt >= 600, 'data resumed only after the refusal window');
    t.is(sim.connections().length, 2, 'refused attempts are not connections');
  },
);

test.serial(
  'a stall trips tardis-dev stale detection, drops the stalled ticks and data resumes',
  async (t) => {
    const sim = await startSimulator({ seed: 4, ratePerSymbol: 50 });
    const feed = await streamFrom(sim, t, 400);
    await feed.until('first trades', () => feed.trades('BTCUSDT').length >= 3);
    const stallStart = Date.now();
    sim.stall(1200);
    const stallEnd = sim.stats().stalledUntil!;
    await feed.until('a disconnect from the stale timeout', (ms) => ms.some((m) => m.type === 'disconnect'));
    // Keep streaming ~600 ms after the stall: tardis-dev polls every 100 ms, per connection, until it has
    // counted 2 x symbols messages, and a poll still pending when the feed closes never stops.
    await feed.until('600 ms of trades after the stall', () =>
      feed.trades('BTCUSDT').some((x) => x.timestamp.getTime() > stallEnd + 600),
    );
    const inStall = feed
      .trades('BTCUSDT')
      .filter((x) => x.timestamp.getTime() > stallStart + 20 && x.timestamp.getTime() < stallEnd);
    t.deepEqual(inStall, [], 'ticks during a drop-mode stall are never sent');
    t.true(sim.stats().connections >= 2, 'tardis-dev replaced the stalled connection');
    t.true(sim.sentTrades('btcusdt').length >= 2, 'the sent id ranges show the hole');
  },
);

test('the simulator speaks Binance combined streams and its control endpoint drives faults', async (t) => {
  const sim = await startSimulator({ seed: 5, ratePerSymbol: 100, symbols: ['btcusdt'] });
  t.teardown(() => sim.stop());
  const ws = new WebSocket(`${sim.wsUrl.split('?')[0]}?timeUnit=MICROSECOND&streams=btcusdt@trade`);
  t.teardown(() => ws.terminate());
  const frames: {
    stream?: string;
    data?: { t: number; T: number; s: string };
    result?: unknown;
    id?: number;
  }[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (raw) => {
    frames.push(JSON.parse(raw.toString()) as (typeof frames)[number]);
    for (const w of waiters) w();
  });
  const until = (predicate: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (predicate()) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
    });
  await once(ws, 'open');
  ws.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@bookTicker', 'dogeusdt@trade'], id: 7 }));
  ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 8 }));
  await until(() => frames.some((f) => f.id === 8));
  t.deepEqual(
    frames.find((f) => f.id === 7),
    { result: null, id: 7 },
  );
  t.deepEqual((frames.find((f) => f.id === 8)?.result as string[]).sort(), [
    'btcusdt@bookTicker',
    'btcusdt@trade',
    'dogeusdt@trade',
  ]);
  await until(() => frames.filter((f) => f.stream === 'btcusdt@trade').length >= 5);
  const trade = frames.find((f) => f.stream === 'btcusdt@trade')!.data!;
  t.is(trade.s, 'BTCUSDT');
  t.is(trade.T % 1000, 0);
  t.true(trade.T > 1e15, 'timeUnit=MICROSECOND gives microsecond timestamps');
  t.false(
    frames.some((f) => f.stream === 'dogeusdt@trade'),
    'symbols outside the list stay silent',
  );

  const post = async (path: string, body: unknown): Promise<unknown> => {
    const res = await fetch(`${sim.controlUrl}/${path}`, { method: 'POST', body: JSON.stringify(body) });
    t.is(res.status, 200);
    return res.json();
  };
  await post('stall', { ms: 300, mode: 'buffer' });
  const stats = (await (await fetch(`${sim.controlUrl}/stats`)).json()) as { stalledUntil: number | null };
  t.not(stats.stalledUntil, null);
  const countAtStall = frames.length;
  await until(() => frames.length > countAtStall + 20);
  t.true(Date.now() >= stats.stalledUntil! - 5, 'nothing arrived during the stall');
  await post('refuse', { ms: 60_000, status: 429 });
  const refused = new WebSocket(sim.wsUrl);
  refused.on('error', () => undefined);
  const [request, response] = (await once(refused, 'unexpected-response')) as [
    { destroy(): void },
    { statusCode: number },
  ];
  t.is(response.statusCode, 429);
  request.destroy();
  await post('clear', {});
  t.is(((await post('drop-all', {})) as { dropped: number }).dropped, 1);
  await once(ws, 'close');
  const sent = (await (await fetch(`${sim.controlUrl}/sent-trades?symbol=BTCUSDT`)).json()) as {
    ranges: { firstId: number; lastId: number }[];
  };
  t.is(sent.ranges.length, 1, 'buffer mode delays ticks but loses none');
  const received = frames.filter((f) => f.stream === 'btcusdt@trade').map((f) => f.data!.t);
  t.deepEqual(received, range(sent.ranges[0]!.firstId, sent.ranges[0]!.lastId + 1));
  t.is((await fetch(`${sim.controlUrl}/nope`)).status, 404);
  t.is((await fetch(`${sim.controlUrl}/stall`, { method: 'POST', body: '{"ms":-1}' })).status, 400);
});

test('the CLI prints one JSON line with its urls and stops on SIGTERM', async (t) => {
  const main = fileURLToPath(new URL('../../scripts/local/exchange/main.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', main, '--seed', '3', '--rate', '20', '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout });
  const [first] = (await once(lines, 'line')) as [string];
  const ready = JSON.parse(first) as {
    wsUrl: string;
    simulatorControlUrl: string;
    historyEndpoint: string;
    certPath: string;
  };
  t.regex(ready.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+\/stream\?timeUnit=microsecond$/);
  t.regex(ready.historyEndpoint, /^https:\/\/127\.0\.0\.1:\d+\/v1$/);
  const info = (await (await fetch(`${ready.simulatorControlUrl}/info`)).json()) as {
    seed: number;
    ratePerSymbol: number;
  };
  t.deepEqual([info.seed, info.ratePerSymbol], [3, 20]);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  t.is(code, 0);
});
