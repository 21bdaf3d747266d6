import {
  combine,
  normalizeBookChanges,
  normalizeBookTickers,
  normalizeTrades,
  streamNormalized,
  type Disconnect,
  type Exchange,
} from 'tardis-dev';
import type { FeedEvent, TickFeed } from '../core/feed.ts';
import type { Logger } from '../core/ports.ts';
import type { DataType, StreamKey } from '../core/streams.ts';
import { abortable } from './abortable.ts';
import { fromTardis } from './tardis-mapping.ts';

// tardis-dev types each normalizer for the exchanges it supports; the stream config is validated
// against our own exchange list, so the factories are used under a common type here.
type AnyMapperFactory = Parameters<typeof streamNormalized>[1];
const NORMALIZERS: Record<DataType, AnyMapperFactory> = {
  trade: normalizeTrades as unknown as AnyMapperFactory,
  book_ticker: normalizeBookTickers as unknown as AnyMapperFactory,
  book_change: normalizeBookChanges as unknown as AnyMapperFactory,
};

/**
 * The TickFeed port on tardis-dev's real-time feeds: one streamNormalized per exchange, with disconnect
 * messages so coverage can be closed at the moment a socket is lost. `WSS_URL_<EXCHANGE>` in the
 * environment redirects a feed (the local exchange simulator uses it).
 */
export class TardisLiveFeed implements TickFeed {
  constructor(
    private readonly streams: readonly StreamKey[],
    private readonly logger: Logger,
    private readonly staleTimeoutMs = 10_000,
  ) {}

  async *events(signal: AbortSignal): AsyncIterable<FeedEvent> {
    const byExchange = new Map<string, { symbols: Set<string>; types: Set<DataType> }>();
    for (const s of this.streams) {
      const entry = byExchange.get(s.exchange) ?? { symbols: new Set(), types: new Set() };
      entry.symbols.add(s.symbol);
      entry.types.add(s.type);
      byExchange.set(s.exchange, entry);
    }
    const iterators = [...byExchange.entries()].map(([exchange, { symbols, types }]) =>
      streamNormalized(
        {
          exchange: exchange as Exchange,
          symbols: [...symbols],
          withDisconnectMessages: true,
          timeoutIntervalMS: this.staleTimeoutMs,
          onError: (error) => this.logger.log('WARNING', 'exchange feed error', { exchange, error }),
        },
        ...[...types].map((t) => NORMALIZERS[t]),
      ),
    );
    const merged = (iterators.length === 1 ? iterators[0]! : combine(...iterators)) as AsyncIterableIterator<
      { type: string } | Disconnect
    >;
    yield* abortable(merged, signal, (message) => {
      if (message.type === 'disconnect') {
        const d = message as Disconnect;
        return {
          kind: 'disconnect',
          exchange: d.exchange,
          symbols: d.symbols?.map((s) => s.toLowerCase()),
          at: d.localTimestamp.getTime(),
        };
      }
      const tick = fromTardis(message);
      return tick ? { kind: 'tick', tick } : undefined;
    });
  }
}
