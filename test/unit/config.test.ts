import test from 'ava';
import { ConfigError, parse, readConfig } from '../../functions/core/shared/config.ts';
import { parseStreamsConfig } from '../../functions/core/model/streams-config.ts';
import { readRelayConfig } from '../../functions/relay/config.ts';

test('a missing required variable is named in the error', (t) => {
  const error = t.throws(
    () => readConfig({ p: { env: 'MY_VAR', description: 'x', parse: parse.string } }, {}),
    {
      instanceOf: ConfigError,
    },
  );
  t.is(error?.variable, 'MY_VAR');
});

test('an out-of-range integer names the variable and the value', (t) => {
  const error = t.throws(() =>
    readRelayConfig({
      GOOGLE_CLOUD_PROJECT: 'p',
      RELAY_STREAMS: 'binance:btcusdt:trade',
      BATCH_MAX_TICKS: '0',
    }),
  );
  t.regex(error!.message, /BATCH_MAX_TICKS: invalid value "0"/);
});

test('the stream list expands symbols and types and lower-cases symbols', (t) => {
  t.deepEqual(parseStreamsConfig('binance:BTCUSDT,ethusdt:trade,book_ticker'), [
    { exchange: 'binance', symbol: 'btcusdt', type: 'trade' },
    { exchange: 'binance', symbol: 'ethusdt', type: 'trade' },
    { exchange: 'binance', symbol: 'btcusdt', type: 'book_ticker' },
    { exchange: 'binance', symbol: 'ethusdt', type: 'book_ticker' },
  ]);
});

test('an unknown exchange, type or duplicate stream is refused with the entry named', (t) => {
  t.throws(() => parseStreamsConfig('krakenx:btcusd:trade'), {
    message: /krakenx:btcusd:trade.*unknown exchange/,
  });
  t.throws(() => parseStreamsConfig('binance:btcusdt:candles'), { message: /unknown data type "candles"/ });
  t.throws(() => parseStreamsConfig('binance:btcusdt:trade;binance:btcusdt:trade'), {
    message: /listed twice/,
  });
  t.throws(() => parseStreamsConfig(' ; '), { message: /no streams/ });
});

test('the parsed config is frozen', (t) => {
  const config = readRelayConfig({ GOOGLE_CLOUD_PROJECT: 'p', RELAY_STREAMS: 'binance:btcusdt:trade' });
  t.true(Object.isFrozen(config));
  t.is(config.maxWaitMs, 100);
});
