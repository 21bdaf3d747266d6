import test from 'ava';
import { startSimulator } from '../../scripts/local/exchange/simulator.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';
import { runRelayToExit } from '../support/relay.ts';

const EX_CONFIG = 78;

/** The CRITICAL line the relay logs before exiting. */
function critical(logs: readonly Record<string, unknown>[]): string {
  return String(logs.find((l) => l.severity === 'CRITICAL')?.message ?? '(no CRITICAL line)');
}

test('a bad stream entry, exchange or symbol stops the relay with exit 78 and names the entry', async (t) => {
  const cases: { streams?: string; extra?: Record<string, string>; expect: RegExp }[] = [
    { streams: undefined, expect: /RELAY_STREAMS: is required/ },
    { streams: 'kraken:xbtusd:trade', expect: /"kraken:xbtusd:trade": unknown exchange "kraken"/ },
    { streams: 'binance:btcusdt:candles', expect: /"binance:btcusdt:candles": unknown data type "candles"/ },
    {
      streams: 'binance:btcusdt:trade;binance:btc-usdt:trade',
      expect: /"binance:btc-usdt:trade": "btc-usdt" is not a binance symbol/,
    },
    {
      streams: 'coinbase:btcusd:trade',
      expect: /"coinbase:btcusd:trade": "btcusd" is not a coinbase symbol/,
    },
    { streams: 'binance:btcusdt', expect: /"binance:btcusdt" must be exchange:symbols:types/ },
    {
      streams: 'binance:btcusdt:trade',
      extra: { BATCH_MAX_WAIT_MS: '0' },
      expect: /BATCH_MAX_WAIT_MS: invalid value "0"/,
    },
  ];
  // Two at a time: each is a Node start-up, and the machine has two cores.
  const results: Awaited<ReturnType<typeof runRelayToExit>>[] = [];
  for (let i = 0; i < cases.length; i += 2) {
    const pair = cases.slice(i, i + 2);
    results.push(
      ...(await Promise.all(pair.map((c) => runRelayToExit({ streams: c.streams, extra: c.extra })))),
    );
  }
  results.forEach((result, i) => {
    const c = cases[i]!;
    t.is(result.code, EX_CONFIG, `${c.streams}: exit code (output: ${result.output.slice(0, 300)})`);
    t.regex(critical(result.logs), c.expect, `${c.streams}`);
  });
});

test('a symbol the exchange does not list is refused at subscribe time: exit 78 naming the stream', async (t) => {
  const emulators = requireEmulators();
  const sim = await startSimulator({ seed: 7, ratePerSymbol: 20, unlisted: ['btc-xyz'] });
  t.teardown(() => sim.stop());
  const result = await runRelayToExit({
    streams: 'coinbase:btc-usd,btc-xyz:trade,book_ticker',
    topic: uniqueName('relay_cfg'),
    pubsubHost: emulators.pubsub,
    firestoreHost: emulators.firestore,
    projectId: emulators.projectId,
    extra: { WSS_URL_COINBASE: sim.wsUrls.coinbase, GAPS_COLLECTION: uniqueName('gaps') },
  });
  t.is(result.code, EX_CONFIG, result.output.slice(-1000));
  const message = critical(result.logs);
  t.regex(message, /coinbase:btc-xyz:trade, coinbase:btc-xyz:book_ticker/);
  t.regex(message, /BTC-XYZ is not a valid product/);
  t.notRegex(message, /btc-usd/, 'the listed symbol is not blamed');
  const line = result.logs.find((l) => l.severity === 'CRITICAL');
  t.like(line, { signal: 'relay_stream_refused', exchange: 'coinbase' }, 'the alert counts this line');
  // From listening to exiting: the first refusal is final (tardis-dev alone would retry forever).
  const started = Date.parse(String(result.logs.find((l) => l.message === 'relay started')?.time));
  const refused = Date.parse(String(result.logs.find((l) => l.severity === 'CRITICAL')?.time));
  // (Generous: a loaded 2-core machine is slow to start a process; tardis-dev alone would never stop.)
  t.true(refused - started < 30_000, `refused ${refused - started} ms after start`);
});
