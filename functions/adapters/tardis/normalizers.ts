import type { BookTicker, Exchange, Filter, Mapper, NormalizedData } from 'tardis-dev';
import { exchangeDescriptor, type ExchangeDescriptor } from '../../core/exchanges/index.ts';
import type { DataType } from '../../core/model/streams.ts';
import { isNumericUpdateId, type Tick } from '../../core/model/tick.ts';
import { tardisNormalizer, type AnyMapperFactory } from './exchanges.ts';
import { fromTardis } from './mapping.ts';

/** A normalized book ticker with the exchange's update id, when the raw message has one. */
export type BookTickerWithUpdateId = BookTicker & { updateId?: string | number };

type UpdateIdReader = ExchangeDescriptor['bookTickerUpdateId'];
/** The exchange's reader of a book ticker's update id in the raw message (its descriptor's). */
const updateIdReader = (exchange: string): UpdateIdReader | undefined =>
  exchangeDescriptor(exchange)?.bookTickerUpdateId;

/**
 * The update id as the exchange sent it: a number stays a number (not formatted as text here: the relay
 * sends it as a float64 column, and a row id spells it as `String` would), digits sent as text stay text.
 */
function updateIdOf(read: UpdateIdReader | undefined, message: unknown): string | number | undefined {
  if (read === undefined || typeof message !== 'object' || message === null) return undefined;
  const value = read(message as Record<string, unknown>);
  if (isNumericUpdateId(value)) return value;
  if (typeof value === 'string' && /^\d{1,30}$/.test(value)) return value;
  return undefined;
}

/** Sets `updateId` on each book ticker an inner mapper yields (a plain iterator: see docs/PERFORMANCE.md). */
class Tagging implements IterableIterator<BookTickerWithUpdateId> {
  constructor(
    private readonly inner: IterableIterator<BookTicker>,
    private readonly updateId: string | number,
  ) {}
  next(): IteratorResult<BookTickerWithUpdateId> {
    const result = this.inner.next();
    if (result.done !== true) (result.value as BookTickerWithUpdateId).updateId = this.updateId;
    return result;
  }
  [Symbol.iterator](): IterableIterator<BookTickerWithUpdateId> {
    return this;
  }
}

/**
 * tardis-dev's book ticker normalizer, plus `updateId` from the raw message. A class, not an object of
 * closures, because a mapper is made per replay and per reconnect: see docs/PERFORMANCE.md.
 */
class UpdateIdBookTickerMapper implements Mapper<Exchange, BookTickerWithUpdateId> {
  constructor(
    private readonly inner: Mapper<Exchange, BookTicker>,
    private readonly read: UpdateIdReader | undefined,
  ) {}
  canHandle(message: unknown): boolean {
    return this.inner.canHandle(message);
  }
  getFilters(symbols?: string[]): ReturnType<Mapper<Exchange, BookTicker>['getFilters']> {
    return this.inner.getFilters(symbols);
  }
  map(message: unknown, local: Date): IterableIterator<BookTickerWithUpdateId> | undefined {
    const mapped = this.inner.map(message, local);
    const updateId = updateIdOf(this.read, message);
    return mapped === undefined || updateId === undefined ? mapped : new Tagging(mapped, updateId);
  }
}

/**
 * The normalizer of each data type for tardis-dev's normalized replays (history): the exchange's own
 * (adapters/tardis/exchanges.ts), with book tickers carrying the update id. The live feed gets the same
 * ticks from RawTickNormalizer, which reads the id with the same reader; test/unit/relay-tardis.test.ts
 * holds the two equal.
 */
export const TICK_NORMALIZERS: Readonly<Record<DataType, AnyMapperFactory>> = Object.freeze({
  trade: (exchange, local) => tardisNormalizer(exchange, 'trade')(exchange, local),
  book_ticker: (exchange, local) =>
    new UpdateIdBookTickerMapper(
      tardisNormalizer(exchange, 'book_ticker')(exchange, local) as Mapper<Exchange, BookTicker>,
      updateIdReader(exchange),
    ) as Mapper<Exchange, NormalizedData>,
  book_change: (exchange, local) => tardisNormalizer(exchange, 'book_change')(exchange, local),
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
  private readonly readUpdateId: UpdateIdReader | undefined;

  constructor(
    private readonly exchange: Exchange,
    types: readonly DataType[],
    connectedAt: Date,
  ) {
    this.factories = types.map((type) => tardisNormalizer(exchange, type));
    this.readUpdateId = updateIdReader(exchange);
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
        const updateId =
          normalized.type === 'book_ticker' ? updateIdOf(this.readUpdateId, message) : undefined;
        const tick = fromTardis(normalized, updateId);
        if (tick !== undefined) onTick(tick);
      }
    }
  }

  private create(localTimestamp: Date): Mapper<Exchange, NormalizedData>[] {
    return this.factories.map((factory) => factory(this.exchange, localTimestamp));
  }
}
