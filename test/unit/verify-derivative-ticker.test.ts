// The chaos runs and `npm start` compare derivative tickers by the instant their row key names
// (scripts/local/verify-derivative-ticker.ts): that instant must be the ground truth's on every exchange
// and every channel that carries a ticker, whatever time tardis-dev stamps the row with.
import test from 'ava';
import { EXCHANGES } from '../../functions/core/exchanges/index.ts';
import type { RawMessage } from '../../functions/core/exchanges/descriptor.ts';
import { GROUND_TRUTH_EPOCH_MS, tickSource } from '../../scripts/local/exchange/ground-truth.ts';
import { PROTOCOLS } from '../../scripts/local/exchange/protocols.ts';
import { simulatedTypes } from '../../scripts/local/stream-mix.ts';
import { keyedInstant } from '../../scripts/local/verify-derivative-ticker.ts';

test('every simulated ticker channel keys its row with the ground-truth instant of the tick', (t) => {
  const exchanges = Object.keys(PROTOCOLS).filter((e) => simulatedTypes(e).includes('derivative_ticker'));
  t.true(exchanges.length >= 3, `tickers on ${exchanges.join(', ')}`);
  for (const exchange of exchanges) {
    const protocol = PROTOCOLS[exchange as keyof typeof PROTOCOLS];
    const descriptor = EXCHANGES[exchange]!;
    const symbol = descriptor.symbol.example;
    const source = tickSource('derivativeTicker', { seed: 5, exchange, symbol, rate: 20 });
    const tick = source.tick(source.indexAtOrAfter(GROUND_TRUTH_EPOCH_MS + 40 * 86_400_000));
    const channels = Object.entries(protocol.history.channelKinds)
      .filter(([, kind]) => kind === 'derivativeTicker')
      .map(([channel]) => channel);
    t.true(channels.length > 0, exchange);
    for (const channel of channels) {
      const message = protocol.history.message(tick, { timeUnit: 'millisecond' }, channel) as RawMessage;
      const key = descriptor.derivativeTickerEventKey?.(message);
      t.is(typeof key, 'string', `${exchange} ${channel} has an event key`);
      const prefix = `${exchange}:${symbol}:d:`;
      t.is(keyedInstant(`${prefix}${String(key)}`, prefix), tick.timestamp, `${exchange} ${channel}`);
    }
  }
});

test('a row without an event key, or of another stream, names no instant', (t) => {
  const prefix = 'bybit:btcusdt:d:';
  t.is(keyedInstant('bybit:btcusdt:d:tickers:1767225601000', prefix), 1767225601000);
  t.is(
    keyedInstant('okex-swap:btc-usdt-swap:d:mark-price:1767225601000', 'okex-swap:btc-usdt-swap:d:'),
    1767225601000,
  );
  t.is(keyedInstant('bybit:btcusdt:dh:AbCdEfGhIjKlMnOpQrStUv', prefix), null);
  t.is(keyedInstant('bybit:ethusdt:d:tickers:1767225601000', prefix), null);
  t.is(keyedInstant('bybit:btcusdt:d:tickers:soon', prefix), null);
});
