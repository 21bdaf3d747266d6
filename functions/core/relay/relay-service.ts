import { StreamBatcher, type BatchLimits } from './batcher.ts';
import type { SealedBatch } from '../contract/batch.ts';
import type { Clock, FeedEvent, Logger, TickFeed, TickPublisher } from '../ports.ts';
import { LatencyWindow, newCounters, type LatencySummary, type RelayCounters } from './counters.ts';
import { carriedRowId } from '../model/row-id.ts';
import { streamId, type DataType, type StreamKey } from '../model/streams.ts';
import type { Tick } from '../model/tick.ts';

export interface RelayOptions {
  readonly relayId: string;
  readonly streams: readonly StreamKey[];
  readonly limits: BatchLimits;
  /** Bound on bytes handed to the publisher and not yet settled; past it, batches become holes. */
  readonly maxInFlightBytes: number;
  /** How often batchers are polled for time-based cuts and heartbeats. */
  readonly tickIntervalMs: number;
  /** Called once per stream, the first time its coverage opens in this process (startup recovery). */
  readonly onFirstCoverage?: (stream: StreamKey, from: number) => void;
}

export type { RelayCounters } from './counters.ts';

export interface StreamStatus {
  readonly stream: string;
  readonly exchange: string;
  readonly covering: boolean;
  /** Start (ms) of the open coverage window, or null. */
  readonly coveringSince: number | null;
  /** Whether coverage has opened at least once since start, i.e. the subscription was proven. */
  readonly subscribed: boolean;
  readonly ticksIn: number;
  /** Receive time (ms) of the newest tick of this stream. */
  readonly lastTickAt: number | null;
  /** End (ms) of the newest window the broker acknowledged: the stream is recorded up to here. */
  readonly coveredTo: number | null;
  /** Wall-clock ms of the newest acknowledged publish. */
  readonly lastPublishAt: number | null;
  readonly bufferedTicks: number;
}

interface StreamState {
  readonly key: StreamKey;
  readonly id: string;
  readonly batcher: StreamBatcher;
  subscribed: boolean;
  ticksIn: number;
  /**
   * Receive ms of the newest tick, NaN before the first: a number from the start, so the per-tick store
   * updates it in place instead of allocating a new heap number each time (null would make it a boxed field).
   */
  lastTickAt: number;
  coveredTo: number | null;
  lastPublishAt: number | null;
}

interface ExchangeState {
  readonly name: string;
  /**
   * Receive ms of the newest message delivered for this exchange. Its one connection delivers in order,
   * so every message received before it has been delivered too, and the connection was alive then:
   * coverage may be claimed up to (and including) this millisecond, not beyond.
   */
  proofMs: number;
  readonly streams: StreamState[];
  /** symbol -> stream, one map per type (fields, not a map by type: one lookup per tick, see `ofType`). */
  readonly trade: Map<string, StreamState>;
  readonly book_ticker: Map<string, StreamState>;
  readonly book_change: Map<string, StreamState>;
}

/**
 * The relay's core: feed events in, batches out, coverage accounted. Nothing is dropped silently: a batch
 * that cannot be published is logged with its window and counted, and its window never becomes coverage,
 * which downstream sees as a hole and backfills.
 */
export class RelayService {
  readonly counters: RelayCounters = newCounters();
  readonly startedAt: number;
  private readonly exchanges = new Map<string, ExchangeState>();
  private lastExchange: ExchangeState | undefined;
  private readonly streams: StreamState[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly latency = new LatencyWindow();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private intakeOpen = true;

  constructor(
    private readonly feed: TickFeed,
    private readonly publisher: TickPublisher,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: RelayOptions,
  ) {
    this.startedAt = clock.now();
    // Time cuts happen on the poll timer: cut early enough that no tick waits past maxWaitMs and no quiet
    // stream goes longer than heartbeatMs without a batch, even when a poll runs a little late.
    const { maxWaitMs, heartbeatMs } = options.limits;
    const early = (limit: number, margin: number) => (margin < limit ? limit - margin : limit);
    const limits = {
      ...options.limits,
      maxWaitMs: early(maxWaitMs, options.tickIntervalMs),
      heartbeatMs: early(heartbeatMs, Math.max(options.tickIntervalMs, heartbeatMs / 10)),
    };
    for (const key of options.streams) {
      let exchange = this.exchanges.get(key.exchange);
      if (!exchange) {
        exchange = {
          name: key.exchange,
          proofMs: Number.NEGATIVE_INFINITY,
          streams: [],
          trade: new Map(),
          book_ticker: new Map(),
          book_change: new Map(),
        };
        this.exchanges.set(key.exchange, exchange);
      }
      const state: StreamState = {
        key,
        id: streamId(key),
        batcher: new StreamBatcher(key, options.relayId, limits),
        subscribed: false,
        ticksIn: 0,
        lastTickAt: Number.NaN,
        coveredTo: null,
        lastPublishAt: null,
      };
      exchange.streams.push(state);
      ofType(exchange, key.type).set(key.symbol, state);
      this.streams.push(state);
    }
  }

  /** Starts the feed; resolves when the feed ends or stop() is called, rejects when the feed fails. */
  start(): Promise<void> {
    if (this.running) return this.running;
    this.timer = setInterval(() => this.tick(), this.options.tickIntervalMs);
    this.timer.unref(); // the feed's sockets keep the process alive, not this timer
    this.running = this.feed
      .run((event) => this.accept(event), this.abort.signal)
      .finally(() => {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
      });
    return this.running;
  }

  /**
   * Stops intake, closes every coverage window at the last evidence, publishes what is buffered and
   * waits for every publish to settle. Safe to call twice.
   */
  stop(): Promise<void> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  /** The feed's sink: one event, handled synchronously. */
  accept(event: FeedEvent): void {
    if (!this.intakeOpen) {
      if (event.kind === 'tick') this.counters.ticksAfterStop++;
      return;
    }
    if (event.kind === 'tick') this.onTick(event.tick);
    else this.onDisconnect(event.exchange, event.symbols, event.at);
  }

  status(): StreamStatus[] {
    return this.streams.map((s) => ({
      stream: s.id,
      exchange: s.key.exchange,
      covering: s.batcher.isCovering,
      coveringSince: s.batcher.coveringSince,
      subscribed: s.subscribed,
      ticksIn: s.ticksIn,
      lastTickAt: Number.isNaN(s.lastTickAt) ? null : s.lastTickAt,
      coveredTo: s.coveredTo,
      lastPublishAt: s.lastPublishAt,
      bufferedTicks: s.batcher.bufferedTicks,
    }));
  }

  /** Bytes buffered in batchers plus bytes in flight to the broker. */
  get bufferedBytes(): number {
    let bytes = this.counters.inFlightBytes;
    for (const s of this.streams) bytes += s.batcher.bufferedBytes;
    return bytes;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Publish latencies since the previous call. */
  takeLatency(): LatencySummary {
    return this.latency.take();
  }

  /** Coverage may be claimed up to `now` and up to the exchange's last evidence, whichever is earlier. */
  private boundary(exchange: ExchangeState, now: number): number {
    return Math.min(now, exchange.proofMs + 1);
  }

  private onTick(tick: Tick): void {
    // Ticks come in runs from one exchange: look it up only when it changes.
    let exchange = this.lastExchange;
    if (exchange?.name !== tick.exchange) {
      exchange = this.exchanges.get(tick.exchange);
      this.lastExchange = exchange;
    }
    if (!exchange) {
      this.counters.ticksIgnored++;
      return;
    }
    const at = Math.floor(tick.localTs / 1000);
    if (at > exchange.proofMs) exchange.proofMs = at;
    const bySymbol = ofType(exchange, tick.type);
    const state = bySymbol.get(tick.symbol);
    if (!state) {
      this.counters.ticksIgnored++;
      return;
    }
    this.counters.ticksIn++;
    state.ticksIn++;
    state.lastTickAt = at;
    // The first message of a type after a (re)connect proves that subscription live: open every stream
    // of the type on this exchange, so quiet symbols are covered too.
    if (!state.batcher.isCovering) this.openGroup(bySymbol, at);
    const now = this.clock.now();
    // Keyed row ids (trade id, update id) are the writer's to derive; only content-hash ids are built here.
    const batch = state.batcher.add(tick, carriedRowId(tick), now, this.boundary(exchange, now));
    if (batch) this.publish(batch, state);
  }

  private openGroup(bySymbol: Map<string, StreamState>, at: number): void {
    const opened: string[] = [];
    for (const s of bySymbol.values()) {
      if (s.batcher.isCovering) continue;
      s.batcher.open(at);
      opened.push(s.key.symbol);
      if (!s.subscribed) {
        s.subscribed = true;
        this.options.onFirstCoverage?.(s.key, at);
      }
    }
    const first = bySymbol.values().next().value!;
    this.logger.log('INFO', 'coverage opened', {
      exchange: first.key.exchange,
      type: first.key.type,
      symbols: opened,
      from: at,
    });
  }

  private onDisconnect(exchangeName: string, symbols: readonly string[] | undefined, at: number): void {
    this.counters.disconnects++;
    const exchange = this.exchanges.get(exchangeName);
    if (!exchange) return;
    const now = this.clock.now();
    // Every message of the lost connection was delivered before this event, the last one at `at`.
    const boundary = Math.min(now, at + 1);
    const closed: { stream: string; from: number; to: number }[] = [];
    for (const s of exchange.streams) {
      if (symbols && !symbols.includes(s.key.symbol)) continue;
      const batch = s.batcher.close(boundary);
      if (!batch) continue;
      closed.push({ stream: s.id, from: batch.window.from, to: batch.window.to });
      this.publish(batch, s);
    }
    this.logger.log(
      'WARNING',
      'exchange connection lost; coverage closed until the first message after reconnect',
      {
        exchange: exchangeName,
        lastReceivedAt: at,
        closedAt: boundary,
        closed: closed.length,
      },
    );
  }

  /** Cuts every batch that is due (time limit or heartbeat). The timer calls it; tests may too. */
  tick(): void {
    const now = this.clock.now();
    for (const exchange of this.exchanges.values()) {
      const boundary = this.boundary(exchange, now);
      for (const s of exchange.streams) {
        const batch = s.batcher.poll(now, boundary);
        if (batch) this.publish(batch, s);
      }
    }
  }

  private publish(batch: SealedBatch, state: StreamState): void {
    const { message } = batch;
    const size = message.data.length;
    const { from, to } = batch.window;
    const ticks = batch.count;
    if (this.counters.inFlightBytes + size > this.options.maxInFlightBytes) {
      this.counters.backpressureDrops++;
      this.counters.ticksLostBackpressure += ticks;
      this.counters.uncoveredMs += to - from;
      this.logger.log('ERROR', 'publisher backlog full; batch dropped, its window stays uncovered', {
        stream: state.id,
        batchId: message.attributes.batch,
        ticks,
        windowFrom: from,
        windowTo: to,
        inFlightBytes: this.counters.inFlightBytes,
      });
      return;
    }
    this.counters.inFlightBytes += size;
    this.counters.inFlightBatches++;
    const startedAt = this.clock.now();
    const done = this.publisher.publish(message).then(
      () => {
        const now = this.clock.now();
        this.counters.batchesOut++;
        if (ticks === 0) this.counters.heartbeatsOut++;
        this.counters.ticksPublished += ticks;
        this.counters.bytesPublished += size;
        this.counters.publishLatencyMsTotal += now - startedAt;
        this.latency.record(now - startedAt);
        state.lastPublishAt = now;
        if (state.coveredTo === null || to > state.coveredTo) state.coveredTo = to;
      },
      (error: unknown) => {
        this.counters.publishFailures++;
        this.counters.ticksLostPublish += ticks;
        this.counters.uncoveredMs += to - from;
        this.logger.log('ERROR', 'publish failed; batch lost, its window stays uncovered', {
          stream: state.id,
          batchId: message.attributes.batch,
          ticks,
          windowFrom: from,
          windowTo: to,
          afterMs: this.clock.now() - startedAt,
          error,
        });
      },
    );
    const tracked = done.finally(() => {
      this.counters.inFlightBytes -= size;
      this.counters.inFlightBatches--;
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
  }

  private async drain(): Promise<void> {
    this.intakeOpen = false;
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const now = this.clock.now();
    for (const exchange of this.exchanges.values()) {
      const boundary = this.boundary(exchange, now);
      for (const s of exchange.streams) {
        const batch = s.batcher.close(boundary);
        if (batch) this.publish(batch, s);
      }
    }
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    await this.publisher.close();
    // The feed may take a moment to close its sockets; nothing it delivers now is accepted, so don't wait.
  }
}

/** The streams of one type on an exchange (a switch: indexing by the type string is a megamorphic load). */
function ofType(exchange: ExchangeState, type: DataType): Map<string, StreamState> {
  switch (type) {
    case 'trade':
      return exchange.trade;
    case 'book_ticker':
      return exchange.book_ticker;
    case 'book_change':
      return exchange.book_change;
  }
}
