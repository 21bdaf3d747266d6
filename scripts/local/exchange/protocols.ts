/**
 * The exchanges the simulator and the history server speak: one line per exchange, keyed by tardis-dev's
 * name for it. An exchange's protocol lives in `<exchange>-protocol.ts` (see exchange-protocol.ts).
 */
import { BINANCE_PROTOCOL } from './binance-protocol.ts';
import { COINBASE_PROTOCOL } from './coinbase-protocol.ts';
import type { ExchangeProtocol } from './exchange-protocol.ts';

export const PROTOCOLS = {
  binance: BINANCE_PROTOCOL,
  coinbase: COINBASE_PROTOCOL,
} as const satisfies Readonly<Record<string, ExchangeProtocol>>;

/** The exchanges the simulator speaks. */
export type SimulatedExchange = keyof typeof PROTOCOLS;

export const SIMULATED_EXCHANGES = Object.keys(PROTOCOLS) as SimulatedExchange[];

export function isSimulatedExchange(value: string): value is SimulatedExchange {
  return Object.hasOwn(PROTOCOLS, value);
}
