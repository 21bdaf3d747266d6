import { stream, type Exchange } from 'tardis-dev';
import { setTimeout as sleep } from 'node:timers/promises';
import { FeedRejectedError } from '../../core/relay/feed-rejected-error.ts';
import { exchangeDescriptor, type RawMessage } from '../../core/exchanges/index.ts';
import type { FeedEvent, Logger, TickFeed } from '../../core/ports.ts';
import { errorMessage } from '../../core/shared/errors.ts';
import { logSignal } from '../../core/shared/signals.ts';
import type { DataType, StreamKey } from '../../core/model/streams.ts';
import type { Tick } from '../../core/model/tick.ts';
import { drive } from './abortable.ts';
import { RawTickNormalizer } from './normalizers.ts';

/** Pause before a new connection when a stream failed (not when tardis-dev reconnects a socket itself). */
const RESTART_DELAY_MS = 1000;

/**
 * The TickFeed port on tardis-dev's real-time feeds: one raw `stream` per exchange (one websocket each for
 * Binance spot and Coinbase), normalized by tardis-dev's normalizers through RawTickNormalizer, with
 * disconnects so coverage closes when a socket is lost. `WSS_URL_<EXCHANGE>` in the environment redirects a
 * feed (the local exchange simulator uses it).
 *
 * This is what tardis-dev's `streamNormalized` does, with two differences: the raw message stays at hand,
 * so a quote's update id is read from it without wrapping a mapper; and a disconnect is dated at the last
 * message received, also when the stream fails (tardis-dev dates that one "now", which would claim
 * coverage for time in which the socket may already have been dead).
 *
 * Each exchange is consumed by its own loop that hands events to the sink synchronously. tardis-dev
 * stamps `localTimestamp` when the message is pulled from its socket stream, so a message is stamped and
 * delivered in one run of promise jobs: no timer can observe a stamped but undelivered message. (tardis'
 * `combine` would buffer between the two and break that, which is why it is not used.)
 */
export class TardisLiveFeed implements TickFeed {
  constructor(
    private readonly streams: readonly StreamKey[],
    private readonly logger: Logger,
    private readonly staleTimeoutMs = 10_000,
  ) {}

  async run(sink: (event: FeedEvent) => void, signal: AbortSignal): Promise<void> {
    // A fatal error on one exchange stops them all: the relay exits and names the refused entry.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) stop.abort();
    const failure = new AbortController();
    const loops = [...streamsByExchange(this.streams)].map(([exchange, { symbols, types }]) =>
      this.consume(exchange, [...symbols], [...types], sink, stop.signal, failure),
    );
    try {
      await Promise.all(loops);
    } catch (error) {
      stop.abort();
      await Promise.allSettled(loops);
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** One exchange's connections, one after another until `stop`; a refusal aborts `failure`. */
  private async consume(
    exchange: string,
    configured: string[],
    types: DataType[],
    sink: (event: FeedEvent) => void,
    stop: AbortSignal,
    failure: AbortController,
  ): Promise<void> {
    const onError = (error: Error) => {
      const rejected = classifyFeedError(exchange, configured, error);
      if (rejected) {
        failure.abort(rejected);
        return;
      }
      this.logger.log('WARNING', 'exchange feed error; tardis-dev reconnects', { exchange, error });
    };
    const onTick = (tick: Tick) => sink({ kind: 'tick', tick });
    // Like streamNormalized: a stream that ends or fails is replaced by a new connection.
    while (!stop.aborted) {
      const normalizer = new RawTickNormalizer(exchange as Exchange, types, new Date());
      let lastReceived = Date.now();
      const lost = () => {
        normalizer.reset();
        sink({ kind: 'disconnect', exchange, symbols: configured, at: lastReceived });
      };
      const source = stream({
        exchange: exchange as Exchange,
        filters: normalizer.filters(configured),
        withDisconnects: true,
        timeoutIntervalMS: this.staleTimeoutMs,
        onError,
      });
      let failed: { error: unknown } | undefined;
      try {
        await drive(
          source,
          (received) => {
            if (received === undefined) return lost(); // tardis-dev reconnects the socket
            lastReceived = received.localTimestamp.getTime();
            normalizer.normalize(received.message, received.localTimestamp, onTick);
          },
          stop,
          failure.signal,
        );
      } catch (error) {
        if (failure.signal.aborted || stop.aborted) throw error;
        failed = { error };
      }
      if (stop.aborted) break;
      lost();
      if (failed !== undefined) {
        // A message tardis-dev's normalizer cannot take, or the stream itself failing: the hole is
        // explicit (coverage closes at the last message) and a new connection starts a second later.
        logSignal(this.logger, 'relay_stream_failed', { exchange, error: failed.error });
        await sleep(RESTART_DELAY_MS, undefined, { signal: stop }).catch(() => undefined);
      }
    }
  }
}

/** The symbols and data types configured on each exchange. */
function streamsByExchange(
  streams: readonly StreamKey[],
): Map<string, { symbols: Set<string>; types: Set<DataType> }> {
  const byExchange = new Map<string, { symbols: Set<string>; types: Set<DataType> }>();
  for (const s of streams) {
    const entry = byExchange.get(s.exchange) ?? { symbols: new Set(), types: new Set() };
    entry.symbols.add(s.symbol);
    entry.types.add(s.type);
    byExchange.set(s.exchange, entry);
  }
  return byExchange;
}

const ERROR_PREFIX = 'Received error message: ';

/**
 * Decides whether an error tardis-dev reports is an exchange refusing our subscription (permanent: the
 * configuration names something the exchange does not list) rather than a connection problem (tardis-dev
 * reconnects with backoff). The exchange's descriptor reads its own refusals (core/exchanges/).
 */
export function classifyFeedError(
  exchange: string,
  configured: readonly string[],
  error: unknown,
): FeedRejectedError | undefined {
  const text = errorMessage(error);
  const at = text.indexOf(ERROR_PREFIX);
  if (at < 0) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text.slice(at + ERROR_PREFIX.length));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const refusal = exchangeDescriptor(exchange)?.refusal(body as RawMessage, configured);
  if (refusal === undefined) return undefined;
  return new FeedRejectedError(exchange, refusal.symbols, refusal.reason, { cause: error });
}
