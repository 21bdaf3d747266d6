import test from 'ava';
import { readRelayConfig } from '../../functions/relay/config.ts';
import { invalidSymbolReason } from '../../functions/core/exchanges/index.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';

test('streams of two exchanges parse, each symbol in its exchange format', (t) => {
  t.deepEqual(parseStreamsConfig('binance:btcusdt:trade,book_ticker;coinbase:BTC-USD,eth-usd:trade'), [
    { exchange: 'binance', symbol: 'btcusdt', type: 'trade' },
    { exchange: 'binance', symbol: 'btcusdt', type: 'book_ticker' },
    { exchange: 'coinbase', symbol: 'btc-usd', type: 'trade' },
    { exchange: 'coinbase', symbol: 'eth-usd', type: 'trade' },
  ]);
});

test('a symbol in the wrong format for its exchange is refused with the entry named', (t) => {
  t.throws(() => parseStreamsConfig('binance:btc-usdt:trade'), {
    message:
      'stream entry "binance:btc-usdt:trade": "btc-usdt" is not a binance symbol (letters and digits only, e.g. btcusdt)',
  });
  t.throws(() => parseStreamsConfig('coinbase:btcusd:trade'), {
    message: /"btcusd" is not a coinbase symbol \(BASE-QUOTE, e.g. btc-usd\)/,
  });
  t.throws(() => parseStreamsConfig('coinbase:btc/usd:trade'), { message: /"coinbase:btc\/usd:trade"/ });
  t.throws(() => parseStreamsConfig('kraken:xbtusd:trade'), {
    message:
      /unknown exchange "kraken" \(one of binance, coinbase, okex-swap, binance-futures, bybit, deribit\)/,
  });
});

test("an exchange's symbol rule is one function, for the relay's stream list and any other caller", (t) => {
  t.is(invalidSymbolReason('binance', 'btcusdt'), undefined);
  t.is(invalidSymbolReason('coinbase', 'btc-usd'), undefined);
  t.is(
    invalidSymbolReason('binance', 'btc-usdt'),
    '"btc-usdt" is not a binance symbol (letters and digits only, e.g. btcusdt)',
  );
  t.is(
    invalidSymbolReason('coinbase', 'BTC-USD'),
    '"BTC-USD" is not a coinbase symbol (BASE-QUOTE, e.g. btc-usd)',
  );
  t.is(invalidSymbolReason('kraken', 'xbtusd'), 'unknown exchange "kraken"');
  t.is(invalidSymbolReason('constructor', 'x'), 'unknown exchange "constructor"');
});

test('relay defaults: 100 ms wait, 1 s heartbeats, bounded publish and in-flight memory', (t) => {
  const config = readRelayConfig({ GOOGLE_CLOUD_PROJECT: 'p', RELAY_STREAMS: 'binance:btcusdt:trade' });
  t.like(config, {
    maxWaitMs: 100,
    heartbeatMs: 1000,
    publishTimeoutMs: 10_000,
    maxInFlightBytes: 32 * 1024 * 1024,
    shutdownDeadlineMs: 8000,
    checkpoints: 'checkpoints',
    gaps: 'gaps',
    heartbeats: 'relay_heartbeats',
  });
  t.throws(
    () =>
      readRelayConfig({
        GOOGLE_CLOUD_PROJECT: 'p',
        RELAY_STREAMS: 'binance:btcusdt:trade',
        RELAY_PUBLISH_TIMEOUT_MS: '50',
      }),
    {
      message: /RELAY_PUBLISH_TIMEOUT_MS: invalid value "50"/,
    },
  );
});

test('REST_URL_BINANCE is optional, an http(s) base without a trailing slash, and names itself when bad', (t) => {
  const base = { GOOGLE_CLOUD_PROJECT: 'p', RELAY_STREAMS: 'binance:btcusdt:book_change' };
  t.is(readRelayConfig(base).binanceRestUrl, '');
  t.is(
    readRelayConfig({ ...base, REST_URL_BINANCE: 'http://127.0.0.1:8123/api/v3/' }).binanceRestUrl,
    'http://127.0.0.1:8123/api/v3',
  );
  t.throws(() => readRelayConfig({ ...base, REST_URL_BINANCE: 'ws://127.0.0.1:1/api' }), {
    message: /REST_URL_BINANCE.*http\(s\) URL/,
  });
  t.throws(() => readRelayConfig({ ...base, REST_URL_BINANCE: 'api.binance.com' }), {
    message: /REST_URL_BINANCE/,
  });
});
