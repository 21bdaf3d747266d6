/**
 * The exchanges the simulator and the history server speak: one line per exchange, keyed by tardis-dev's
 * name for it. An exchange's protocol lives in `<exchange>-protocol.ts` (see exchange-protocol.ts).
 */
import { BINANCE_PROTOCOL } from './binance-protocol.ts';
import { BINANCE_FUTURES_PROTOCOL } from './binance-futures-protocol.ts';
import { BYBIT_PROTOCOL } from './bybit-protocol.ts';
import { COINBASE_PROTOCOL } from './coinbase-protocol.ts';
import { DERIBIT_PROTOCOL } from './deribit-protocol.ts';
import { OKEX_SWAP_PROTOCOL } from './okex-swap-protocol.ts';
import type { ExchangeProtocol } from './exchange-protocol.ts';
import type { DataType } from '../../../functions/core/model/streams.ts';

export const PROTOCOLS = {
  binance: BINANCE_PROTOCOL,
  coinbase: COINBASE_PROTOCOL,
  'okex-swap': OKEX_SWAP_PROTOCOL,
  'binance-futures': BINANCE_FUTURES_PROTOCOL,
  bybit: BYBIT_PROTOCOL,
  deribit: DERIBIT_PROTOCOL,
} as const satisfies Readonly<Record<string, ExchangeProtocol>>;

/** The exchanges the simulator speaks. */
export type SimulatedExchange = keyof typeof PROTOCOLS;

export const SIMULATED_EXCHANGES = Object.keys(PROTOCOLS) as SimulatedExchange[];

export function isSimulatedExchange(value: string): value is SimulatedExchange {
  return Object.hasOwn(PROTOCOLS, value);
}

/** SQL of a stored trade's ground-truth id for `exchange` (verification queries compare id ranges with it). */
export function groundTruthTradeIdSql(exchange: string): string {
  const protocol: ExchangeProtocol | undefined = isSimulatedExchange(exchange)
    ? PROTOCOLS[exchange]
    : undefined;
  return protocol?.tradeIdSql ?? 'CAST(trade_id AS INT64)';
}

/** What `exchange` adds to a ground-truth id in a keyed row id of `type` (0 for most). */
export function groundTruthKeyOffset(exchange: string, type: DataType): number {
  const protocol: ExchangeProtocol | undefined = isSimulatedExchange(exchange)
    ? PROTOCOLS[exchange]
    : undefined;
  return protocol?.rowKeyOffsets?.[type] ?? 0;
}
