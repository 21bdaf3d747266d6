import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { QuoteTick, TradeTick } from '../../functions/core/model/tick.ts';
import { bookTickerBetween, tradesBetween } from '../../scripts/local/exchange/ground-truth.ts';
import { startHistoryServer, type HistoryServer } from '../../scripts/local/exchange/history-server.ts';

const REPLAY_CLI = fileURLToPath(new URL('../../scripts/local/exchange/replay-cli.ts', import.meta.url));
const FROM = '2024-03-01T00:00:00.000Z';
const TO = '2024-03-01T00:01:00.000Z';

interface Replayed {
  type: string;
  exchange?: string;
  symbol?: string;
  id?: string;
  price?: number;
  amount?: number;
  side?: string;
  bidPrice?: number;
  askPrice?: number;
  updateId?: string | number;
  timestampMs?: number;
}

/** tardis-dev's replayNormalized with the relay's normalizers, in a child (NODE_EXTRA_CA_CERTS at start). */
async function replay(server: HistoryServer, exchange: string, symbols: string): Promise<Replayed[]> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      REPLAY_CLI,
      '--endpoint',
      server.endpoint,
      '--from',
      FROM,
      '--to',
      TO,
      '--exchange',
      exchange,
      '--symbols',
      symbols,
      '--normalizers',
      'trades,bookTickers',
    ],
    { env: { ...process.env, NODE_EXTRA_CA_CERTS: server.certPath }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`replay failed (${code}): ${out.slice(-500)}`);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Replayed);
}

/** The row id the live relay gives the same exchange event (its own mapping of the same normalizer output). */
const liveQuoteId = (exchange: string, symbol: string, updateId: number) =>
  rowId({ type: 'book_ticker', exchange, symbol, updateId } as QuoteTick);
const liveTradeId = (exchange: string, symbol: string, id: number) =>
  rowId({ type: 'trade', exchange, symbol, id: String(id) } as TradeTick);

test('the history server serves Coinbase and Binance so a backfill gets the live row ids', async (t) => {
  const server = await startHistoryServer({ seed: 83, ratePerSymbol: 10, symbols: ['btcusdt', 'btc-usd'] });
  t.teardown(() => server.stop());
  const window = { from: Date.parse(FROM), to: Date.parse(TO) };
  for (const [exchange, symbol] of [
    ['coinbase', 'btc-usd'],
    ['binance', 'btcusdt'],
  ] as const) {
    const messages = await replay(server, exchange, symbol);
    const truth = server.groundTruth(symbol, exchange);
    const trades = messages.filter((m) => m.type === 'trade');
    const expectedTrades = tradesBetween({ ...truth, ...window });
    t.true(expectedTrades.length > 300);
    t.deepEqual(
      trades.map((m) => [m.exchange, m.symbol!.toLowerCase(), m.id, m.price, m.side, m.timestampMs]),
      expectedTrades.map((g) => [
        exchange,
        symbol,
        String(g.id),
        Number(g.price),
        g.isBuyerMaker ? 'sell' : 'buy',
        g.timestamp,
      ]),
      `${exchange}: trades equal the ground truth`,
    );
    const quotes = messages.filter((m) => m.type === 'book_ticker');
    const expectedQuotes = bookTickerBetween({ ...truth, ...window });
    t.deepEqual(
      quotes.map((m) => [m.updateId, m.bidPrice, m.askPrice]),
      // Both exchanges send the id as a number, and it stays one.
      expectedQuotes.map((g) => [g.updateId, Number(g.bidPrice), Number(g.askPrice)]),
      `${exchange}: quotes carry the update id`,
    );
    // The identity a backfill writes is the one the live relay wrote for the same event.
    t.is(
      rowId({ ...(quotes[0] as unknown as QuoteTick), type: 'book_ticker', exchange, symbol }),
      liveQuoteId(exchange, symbol, expectedQuotes[0]!.updateId),
    );
    t.is(
      rowId({ ...(trades[0] as unknown as TradeTick), type: 'trade', exchange, symbol }),
      liveTradeId(exchange, symbol, expectedTrades[0]!.id),
    );
  }
  t.deepEqual([...new Set(server.requests().map((r) => r.path))].sort(), [
    '/v1/data-feeds/binance',
    '/v1/data-feeds/coinbase',
  ]);
});
