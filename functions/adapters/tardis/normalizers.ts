import type { Exchange, Filter, Mapper, NormalizedData } from 'tardis-dev';
import { exchangeDescriptor, type ExchangeDescriptor } from '../../core/exchanges/index.ts';
import type { DataType } from '../../core/model/streams.ts';
import { isNumericUpdateId, type Tick } from '../../core/model/tick.ts';
import { tardisNormalizer, type AnyMapperFactory } from './exchanges.ts';
import { fromTardis } from './mapping.ts';

type KeyReader = ExchangeDescriptor['bookTickerUpdateId'];
/** The exchange's reader of a book ticker's update id in the raw message (its descriptor's). */
const updateIdReader = (exchange: string): KeyReader | undefined =>
  exchangeDescriptor(exchange)?.bookTickerUpdateId;
/** The exchange's reader of a derivative ticker message's event key (its descriptor's, when it has one). */
const eventKeyReader = (exchange: string): KeyReader | undefined =>
  exchangeDescriptor(exchange)?.derivativeTickerEventKey;

/**
 * The update id as the exchange sent it: a number stays a number (not formatted as text here: the relay
 * sends it as a float64 column, and a row id spells it as `String` would), digits sent as text stay text.
 */
function updateIdOf(read: KeyReader | undefined, message: unknown): string | number | undefined {
  if (read === undefined || typeof message !== 'object' || message === null) return undefined;
  const value = read(message as Record<string, unknown>);
  if (isNumericUpdateId(value)) return value;
  if (typeof value === 'string' && /^\d{1,30}$/.test(value)) return value;
  return undefined;
}

/** Longest event key kept: it is in the row id (the insertId); a longer one is not the exchange's key. */
const MAX_EVENT_KEY_LENGTH = 64;

/** A derivative ticker message's event key as the descriptor reads it: non-empty text, else none. */
function eventKeyOf(read: KeyReader | undefined, message: unknown): string | undefined {
  if (read === undefined || typeof message !== 'object' || message === null) return undefined;
  const value = read(message as Record<string, unknown>);
  return typeof value === 'string' && value !== '' && value.length <= MAX_EVENT_KEY_LENGTH
    ? value
    : undefined;
}

/** The raw-message key a normalized message of this type carries (`updateId`, `eventKey`). */
type KeyField = 'updateId' | 'eventKey';
type Keyed = NormalizedData & Partial<Record<KeyField, string | number>>;

/** Sets the key on each message an inner mapper yields (a plain iterator: see docs/PERFORMANCE.md). */
class Tagging implements IterableIterator<Keyed> {
  constructor(
    private readonly inner: IterableIterator<NormalizedData>,
    private readonly field: KeyField,
    private readonly key: string | number,
  ) {}
  next(): IteratorResult<Keyed> {
    const result = this.inner.next();
    if (result.done !== true) (result.value as Keyed)[this.field] = this.key;
    return result;
  }
  [Symbol.iterator](): IterableIterator<Keyed> {
    return this;
  }
}

/**
 * tardis-dev's normalizer of a type, plus the exchange's key read from the raw message (a book ticker's
 * `updateId`, a derivative ticker's `eventKey`). A class, not an object of closures, because a mapper is
 * made per replay and per reconnect: see docs/PERFORMANCE.md.
 */
class KeyTaggingMapper implements Mapper<Exchange, Keyed> {
  constructor(
    private readonly inner: Mapper<Exchange, NormalizedData>,
    private readonly field: KeyField,
    private readonly keyOf: (message: unknown) => string | number | undefined,
  ) {}
  canHandle(message: unknown): boolean {
    return this.inner.canHandle(message);
  }
  getFilters(symbols?: string[]): ReturnType<Mapper<Exchange, NormalizedData>['getFilters']> {
    return this.inner.getFilters(symbols);
  }
  map(message: unknown, local: Date): IterableIterator<Keyed> | undefined {
    const mapped = this.inner.map(message, local);
    const key = this.keyOf(message);
    return mapped === undefined || key === undefined ? mapped : new Tagging(mapped, this.field, key);
  }
}

/** tardis-dev's normalizer of `type` with `field` set from the raw message by the exchange's key reader. */
function keyedNormalizer(
  type: DataType,
  field: KeyField,
  keyOf: (exchange: string) => (message: unknown) => string | number | undefined,
): AnyMapperFactory {
  return (exchange, local) =>
    new KeyTaggingMapper(tardisNormalizer(exchange, type)(exchange, local), field, keyOf(exchange)) as Mapper<
      Exchange,
      NormalizedData
    >;
}

/**
 * The normalizer of each data type for tardis-dev's normalized replays (history): the exchange's own
 * (adapters/tardis/exchanges.ts), with book tickers carrying the update id and derivative tickers their
 * event key. The live feed gets the same ticks from RawTickNormalizer, which reads the keys with the same
 * readers; test/unit/relay-tardis.test.ts holds the two equal.
 */
export const TICK_NORMALIZERS: Readonly<Record<DataType, AnyMapperFactory>> = Object.freeze({
  trade: (exchange: Exchange, local: Date) => tardisNormalizer(exchange, 'trade')(exchange, local),
  book_ticker: keyedNormalizer('book_ticker', 'updateId', (exchange) => {
    const read = updateIdReader(exchange);
    return (message) => updateIdOf(read, message);
  }),
  book_change: (exchange: Exchange, local: Date) =>
    tardisNormalizer(exchange, 'book_change')(exchange, local),
  derivative_ticker: keyedNormalizer('derivative_ticker', 'eventKey', (exchange) => {
    const read = eventKeyReader(exchange);
    return (message) => eventKeyOf(read, message);
  }),
  liquidation: (exchange: Exchange, local: Date) =>
    tardisNormalizer(exchange, 'liquidation')(exchange, local),
});

/**
 * Raw exchange messages of one connection to core ticks: the exchange's tardis-dev normalizers of the
 * given types, and each book ticker's update id read from the raw message it came from (the same reader as
 * TICK_NORMALIZERS, so a tick is the same either way). It does for tardis-dev's raw `stream()` what
 * `streamNormalized` does with TICK_NORMALIZERS, without wrapping a mapper or tagging tardis-dev's objects
 * on the live relay's per-message path (see docs/PERFORMANCE.md).
 *
 * Like tardis-dev's own driver, it starts over after a disconnect: `reset()` drops the mappers (a book
 * change mapper keeps per-connection state), and the next message creates new ones at its receive time.
 */
export class RawTickNormalizer {
  private mappers: Mapper<Exchange, NormalizedData>[] | undefined;
  private readonly factories: AnyMapperFactory[];
  private readonly readUpdateId: KeyReader | undefined;
  private readonly readEventKey: KeyReader | undefined;

  constructor(
    private readonly exchange: Exchange,
    types: readonly DataType[],
    connectedAt: Date,
  ) {
    this.factories = types.map((type) => tardisNormalizer(exchange, type));
    this.readUpdateId = updateIdReader(exchange);
    this.readEventKey = eventKeyReader(exchange);
    this.mappers = this.create(connectedAt);
  }

  /**
   * The subscriptions for `symbols`: one filter per channel with the union of its symbols (a channel asked
   * for without symbols means all of them). For the exchanges configured here this is exactly what
   * tardis-dev's normalized streams ask for (test/unit/relay-tardis.test.ts).
   */
  filters(symbols: readonly string[]): Filter<string>[] {
    const byChannel = new Map<string, Filter<string>>();
    const mappers = this.mappers ?? this.create(new Date());
    for (const filter of mappers.flatMap((m) => m.getFilters([...symbols]))) {
      const seen = byChannel.get(filter.channel);
      if (seen === undefined) {
        byChannel.set(filter.channel, {
          channel: filter.channel,
          ...(filter.symbols ? { symbols: [...filter.symbols] } : {}),
        });
      } else if (seen.symbols !== undefined) {
        // A channel without symbols subscribes to all of them; otherwise the union.
        if (filter.symbols === undefined) delete seen.symbols;
        else
          for (const symbol of filter.symbols) if (!seen.symbols.includes(symbol)) seen.symbols.push(symbol);
      }
    }
    return [...byChannel.values()];
  }

  /** The connection was lost: the next message starts a new one, with new mappers. */
  reset(): void {
    this.mappers = undefined;
  }

  /** Normalizes one raw message received at `localTimestamp`, handing each core tick to `onTick`. */
  normalize(message: unknown, localTimestamp: Date, onTick: (tick: Tick) => void): void {
    const mappers = (this.mappers ??= this.create(localTimestamp));
    for (const mapper of mappers) {
      if (!mapper.canHandle(message)) continue;
      const mapped = mapper.map(message, localTimestamp);
      if (mapped === undefined) continue;
      for (const normalized of mapped) {
        const key =
          normalized.type === 'book_ticker'
            ? updateIdOf(this.readUpdateId, message)
            : normalized.type === 'derivative_ticker'
              ? eventKeyOf(this.readEventKey, message)
              : undefined;
        const tick = fromTardis(normalized, key);
        if (tick !== undefined) onTick(tick);
      }
    }
  }

  private create(localTimestamp: Date): Mapper<Exchange, NormalizedData>[] {
    return this.factories.map((factory) => factory(this.exchange, localTimestamp));
  }
}
