// Which exchanges, symbols and data types a local run records. The default is everything the product
// records that the simulator can play: every exchange descriptor's data types crossed with the
// simulator's protocol table, so a new exchange or type joins `npm start` and the chaos mix by itself.
import { EXCHANGES, invalidSymbolReason } from '../../functions/core/exchanges/index.ts';
import { DATA_TYPES, type DataType, type StreamKey } from '../../functions/core/model/streams.ts';
import type { TickKind } from './exchange/ground-truth.ts';
import { isSimulatedExchange, PROTOCOLS } from './exchange/protocols.ts';

/** The streams of one exchange in a local run: every symbol with every type. */
export interface ExchangeStreams {
  readonly exchange: string;
  readonly symbols: readonly string[];
  readonly types: readonly DataType[];
}

/** The data type a ground-truth tick kind is recorded as. */
export const TYPE_OF_KIND: Readonly<Record<TickKind, DataType>> = {
  trade: 'trade',
  bookTicker: 'book_ticker',
  bookChange: 'book_change',
  derivativeTicker: 'derivative_ticker',
  liquidation: 'liquidation',
};

/** The ground-truth kind a data type is played from. */
export const KIND_OF_TYPE = Object.fromEntries(
  Object.entries(TYPE_OF_KIND).map(([kind, type]) => [type, kind]),
) as Readonly<Record<DataType, TickKind>>;

/**
 * The data types the simulator plays for `exchange` (none when it does not speak its protocol): the
 * ground-truth kinds of its protocol's channels.
 */
export function simulatedTypes(exchange: string): DataType[] {
  if (!isSimulatedExchange(exchange)) return [];
  const kinds = new Set(Object.values(PROTOCOLS[exchange].history.channelKinds));
  return DATA_TYPES.filter((type) => [...kinds].some((kind) => TYPE_OF_KIND[kind] === type));
}

/**
 * Every exchange tickstream records that the simulator speaks, with every data type both know, on the
 * exchange's example symbol. `live`: every recorded exchange and type (the real exchanges need no simulator).
 */
export function defaultMix(live = false): ExchangeStreams[] {
  return Object.values(EXCHANGES).flatMap((descriptor) => {
    const recorded = DATA_TYPES.filter((type) => Object.hasOwn(descriptor.channels, type));
    const played = live ? recorded : simulatedTypes(descriptor.id);
    const types = recorded.filter((type) => played.includes(type));
    return types.length === 0
      ? []
      : [{ exchange: descriptor.id, symbols: [descriptor.symbol.example], types }];
  });
}

export interface MixFilter {
  readonly exchanges?: readonly string[];
  readonly types?: readonly string[];
  /**
   * Each symbol goes to every exchange of the mix whose symbol shape accepts it (`btcusdt` to Binance,
   * `btc-usd` to Coinbase); an exchange no listed symbol fits keeps its default symbol.
   */
  readonly symbols?: readonly string[];
}

/** Narrows `mix`; throws with the known names when a name is unknown or nothing would be left. */
export function narrowMix(mix: readonly ExchangeStreams[], filter: MixFilter): ExchangeStreams[] {
  const known = mix.map((m) => m.exchange);
  for (const name of filter.exchanges ?? []) {
    if (!known.includes(name)) throw new Error(`unknown exchange "${name}" (known: ${known.join(', ')})`);
  }
  const knownTypes = DATA_TYPES.filter((t) => mix.some((m) => m.types.includes(t)));
  for (const name of filter.types ?? []) {
    if (!(knownTypes as readonly string[]).includes(name))
      throw new Error(`unknown data type "${name}" (known: ${knownTypes.join(', ')})`);
  }
  const out = mix
    .filter((m) => filter.exchanges === undefined || filter.exchanges.includes(m.exchange))
    .map((m) => {
      const fitting = (filter.symbols ?? []).filter((s) => invalidSymbolReason(m.exchange, s) === undefined);
      return {
        exchange: m.exchange,
        symbols: fitting.length > 0 ? [...new Set(fitting)] : m.symbols,
        types: m.types.filter((t) => filter.types === undefined || filter.types.includes(t)),
      };
    })
    .filter((m) => m.types.length > 0);
  if (out.length === 0) {
    const offered = mix.map((m) => `${m.exchange}: ${m.types.join(', ')}`).join('; ');
    throw new Error(`no exchange offers the data types asked for (offered: ${offered})`);
  }
  const unplaced = (filter.symbols ?? []).filter((s) =>
    out.every((m) => invalidSymbolReason(m.exchange, s) !== undefined),
  );
  if (unplaced.length > 0) {
    const shapes = out.map((m) => `${m.exchange} e.g. ${EXCHANGES[m.exchange]!.symbol.example}`);
    throw new Error(`symbol ${unplaced.join(', ')} fits no selected exchange (${shapes.join('; ')})`);
  }
  return out;
}

/**
 * The mix the command-line flags `--exchanges a,b --types t1,t2 --symbols x,y` ask for (absent flags:
 * no narrowing); throws a message for the user on an unknown or empty name.
 */
export function mixFromFlags(
  base: readonly ExchangeStreams[],
  flags: { readonly exchanges?: string; readonly types?: string; readonly symbols?: string },
): ExchangeStreams[] {
  const filter: Record<string, string[]> = {};
  for (const name of ['exchanges', 'types', 'symbols'] as const) {
    const raw = flags[name];
    if (raw === undefined) continue;
    const items = raw
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    if (items.length === 0) throw new Error(`--${name} names nothing`);
    filter[name] = items;
  }
  return narrowMix(base, filter);
}

/** The relay's RELAY_STREAMS for a mix: `binance:btcusdt:trade,book_ticker;coinbase:btc-usd:trade`. */
export function streamsConfigOf(mix: readonly ExchangeStreams[]): string {
  return mix.map((m) => `${m.exchange}:${m.symbols.join(',')}:${m.types.join(',')}`).join(';');
}

/**
 * How long a v3 relay (one batch per message) lets a batch wait (BATCH_MAX_WAIT_MS) in a local run of
 * `mix`: long enough that the mix sends about 15 messages per second (100 ms, as deployed, for one
 * stream). The Pub/Sub emulator pushes at most 2 messages at a time (docs/RELIABILITY.md), and on a
 * loaded 2-core machine the local writer then takes about 5 deliveries per second: a dozen streams at 10
 * batches per second would outrun it for good.
 */
export function localBatchWaitMs(mix: readonly ExchangeStreams[]): number {
  return Math.max(100, Math.ceil((mixStreams(mix).length * 1000) / 15));
}

/** One entry per stream of the mix. */
export function mixStreams(mix: readonly ExchangeStreams[]): StreamKey[] {
  return mix.flatMap((m) =>
    m.symbols.flatMap((symbol) => m.types.map((type) => ({ exchange: m.exchange, symbol, type }))),
  );
}
