import { StreamBatcher, type BatchLimits } from './batcher.ts';
import type { FeedEvent, TickFeed } from './feed.ts';
import type { SealedBatch } from '../contract/message.ts';
import type { Clock, Logger, TickPublisher } from '../ports.ts';
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

/**
 * The relay's core: feed events in (intake), windows opened and closed on evidence (coverage), batches
 * out (publishing). Nothing is dropped silently: a batch that cannot be published is logged with its
 * window and counted, and its window never becomes coverage, which downstream sees as a hole and backfills.
 */
export class RelayService {
  readonly counters: RelayCounters = newCounters();
  readonly startedAt: number;
  private readonly registry: StreamRegistry;
  private readonly publishing: BatchPublishing;
  private readonly coverage: Coverage;
  private readonly intake: RelayIntake;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly feed: TickFeed,
    private readonly publisher: TickPublisher,
    clock: Clock,
    logger: Logger,
    private readonly options: RelayOptions,
  ) {
    this.startedAt = clock.now();
    const limits = limitsForPolling(options.limits, options.tickIntervalMs);
    this.registry = new StreamRegistry(options.streams, options.relayId, limits);
    this.publishing = new BatchPublishing(publisher, this.counters, clock, logger, options.maxInFlightBytes);
    this.coverage = new Coverage(this.registry, this.publishing, clock, logger, options.onFirstCoverage);
    this.intake = new RelayIntake(this.registry, this.coverage, this.publishing, this.counters, clock);
  }

  /** Starts the feed; resolves when the feed ends or stop() is called, rejects when the feed fails. */
  start(): Promise<void> {
    if (this.running) return this.running;
    this.timer = setInterval(() => this.tick(), this.options.tickIntervalMs);
    this.timer.unref(); // the feed's sockets keep the process alive, not this timer
    this.running = this.feed
      .run((event) => this.intake.accept(event), this.abort.signal)
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
    this.intake.accept(event);
  }

  /** Cuts every batch that is due (time limit or heartbeat). The timer calls it; tests may too. */
  tick(): void {
    this.coverage.cutDue();
  }

  status(): StreamStatus[] {
    return this.registry.status();
  }

  /** Bytes buffered in batchers plus bytes in flight to the broker. */
  get bufferedBytes(): number {
    return this.counters.inFlightBytes + this.registry.bufferedBytes;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Publish latencies since the previous call. */
  takeLatency(): LatencySummary {
    return this.publishing.takeLatency();
  }

  private async drain(): Promise<void> {
    this.intake.close();
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.coverage.closeAll();
    await this.publishing.settle();
    await this.publisher.close();
    // The feed may take a moment to close its sockets; nothing it delivers now is accepted, so don't wait.
  }
}

/**
 * Time cuts happen on the poll timer: cut early enough that no tick waits past maxWaitMs and no quiet
 * stream goes longer than heartbeatMs without a batch, even when a poll runs a little late.
 */
function limitsForPolling(limits: BatchLimits, tickIntervalMs: number): BatchLimits {
  const early = (limit: number, margin: number) => (margin < limit ? limit - margin : limit);
  return {
    ...limits,
    maxWaitMs: early(limits.maxWaitMs, tickIntervalMs),
    heartbeatMs: early(limits.heartbeatMs, Math.max(tickIntervalMs, limits.heartbeatMs / 10)),
  };
}

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
   * updates it in place (see docs/PERFORMANCE.md).
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

/** The configured streams, by exchange and by (type, symbol), each with its batcher. */
class StreamRegistry {
  readonly exchanges = new Map<string, ExchangeState>();
  readonly streams: StreamState[] = [];
  private lastExchange: ExchangeState | undefined;

  constructor(keys: readonly StreamKey[], relayId: string, limits: BatchLimits) {
    for (const key of keys) {
      const exchange = this.exchanges.get(key.exchange) ?? this.addExchange(key.exchange);
      const state: StreamState = {
        key,
        id: streamId(key),
        batcher: new StreamBatcher(key, relayId, limits),
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

  /** The exchange a tick came from. Ticks come in runs from one exchange: look it up only when it changes. */
  exchangeOfTick(name: string): ExchangeState | undefined {
    let exchange = this.lastExchange;
    if (exchange?.name !== name) {
      exchange = this.exchanges.get(name);
      this.lastExchange = exchange;
    }
    return exchange;
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

  /** Bytes buffered in the batchers. */
  get bufferedBytes(): number {
    let bytes = 0;
    for (const s of this.streams) bytes += s.batcher.bufferedBytes;
    return bytes;
  }

  private addExchange(name: string): ExchangeState {
    const exchange: ExchangeState = {
      name,
      proofMs: Number.NEGATIVE_INFINITY,
      streams: [],
      trade: new Map(),
      book_ticker: new Map(),
      book_change: new Map(),
    };
    this.exchanges.set(name, exchange);
    return exchange;
  }
}

/** The streams of one type on an exchange (a switch, not indexing by the type string: see docs/PERFORMANCE.md). */
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

/** A message received at `at` (ms) was delivered: evidence that its exchange's connection was alive then. */
function noteEvidence(exchange: ExchangeState, at: number): void {
  if (at > exchange.proofMs) exchange.proofMs = at;
}

/** Coverage may be claimed up to `now` and up to the exchange's last evidence, whichever is earlier. */
function coverageBoundary(exchange: ExchangeState, now: number): number {
  return Math.min(now, exchange.proofMs + 1);
}

/**
 * Opens and closes the streams' coverage windows and cuts them at the evidence boundary. A window opens
 * when data proves a subscription, closes when its connection is lost or the relay stops, and never
 * claims time past the last message received.
 */
class Coverage {
  constructor(
    private readonly registry: StreamRegistry,
    private readonly publishing: BatchPublishing,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly onFirstCoverage: ((stream: StreamKey, from: number) => void) | undefined,
  ) {}

  /**
   * The first message of a type after a (re)connect proves that subscription live: opens every stream
   * of the type on this exchange at `at`, so quiet symbols are covered too.
   */
  openType(bySymbol: Map<string, StreamState>, at: number): void {
    const opened: string[] = [];
    for (const s of bySymbol.values()) {
      if (s.batcher.isCovering) continue;
      s.batcher.open(at);
      opened.push(s.key.symbol);
      if (!s.subscribed) {
        s.subscribed = true;
        this.onFirstCoverage?.(s.key, at);
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

  /** A connection was lost after delivering its last message at `at`: closes its streams' windows there. */
  closeLost(exchange: ExchangeState, symbols: readonly string[] | undefined, at: number): void {
    const now = this.clock.now();
    // Every message of the lost connection was delivered before this event, the last one at `at`.
    const boundary = Math.min(now, at + 1);
    const closed: { stream: string; from: number; to: number }[] = [];
    for (const s of exchange.streams) {
      if (symbols && !symbols.includes(s.key.symbol)) continue;
      const batch = s.batcher.close(boundary);
      if (!batch) continue;
      closed.push({ stream: s.id, from: batch.window.from, to: batch.window.to });
      this.publishing.publish(batch, s);
    }
    this.logger.log(
      'WARNING',
      'exchange connection lost; coverage closed until the first message after reconnect',
      {
        exchange: exchange.name,
        lastReceivedAt: at,
        closedAt: boundary,
        closed: closed.length,
      },
    );
  }

  /** Cuts every batch that is due (time limit or heartbeat), up to its exchange's boundary. */
  cutDue(): void {
    const now = this.clock.now();
    for (const exchange of this.registry.exchanges.values()) {
      const boundary = coverageBoundary(exchange, now);
      for (const s of exchange.streams) {
        const batch = s.batcher.poll(now, boundary);
        if (batch) this.publishing.publish(batch, s);
      }
    }
  }

  /** Closes every window at its exchange's last evidence and publishes what is buffered (shutdown). */
  closeAll(): void {
    const now = this.clock.now();
    for (const exchange of this.registry.exchanges.values()) {
      const boundary = coverageBoundary(exchange, now);
      for (const s of exchange.streams) {
        const batch = s.batcher.close(boundary);
        if (batch) this.publishing.publish(batch, s);
      }
    }
  }
}

/** Feed events in: each tick is evidence, opens coverage when it proves a subscription, and is batched. */
class RelayIntake {
  private open = true;

  constructor(
    private readonly registry: StreamRegistry,
    private readonly coverage: Coverage,
    private readonly publishing: BatchPublishing,
    private readonly counters: RelayCounters,
    private readonly clock: Clock,
  ) {}

  /** The feed's sink: one event, handled synchronously. */
  accept(event: FeedEvent): void {
    if (!this.open) {
      if (event.kind === 'tick') this.counters.ticksAfterStop++;
      return;
    }
    if (event.kind === 'tick') this.onTick(event.tick);
    else this.onDisconnect(event.exchange, event.symbols, event.at);
  }

  /** Stops intake: later events are not accepted (ticks are counted as ticksAfterStop). */
  close(): void {
    this.open = false;
  }

  private onTick(tick: Tick): void {
    const exchange = this.registry.exchangeOfTick(tick.exchange);
    if (!exchange) {
      this.counters.ticksIgnored++;
      return;
    }
    const at = Math.floor(tick.localTs / 1000);
    noteEvidence(exchange, at);
    const bySymbol = ofType(exchange, tick.type);
    const state = bySymbol.get(tick.symbol);
    if (!state) {
      this.counters.ticksIgnored++;
      return;
    }
    this.counters.ticksIn++;
    state.ticksIn++;
    state.lastTickAt = at;
    if (!state.batcher.isCovering) this.coverage.openType(bySymbol, at);
    const now = this.clock.now();
    // Keyed row ids (trade id, update id) are the writer's to derive; only content-hash ids are built here.
    const batch = state.batcher.add(tick, carriedRowId(tick), now, coverageBoundary(exchange, now));
    if (batch) this.publishing.publish(batch, state);
  }

  private onDisconnect(exchangeName: string, symbols: readonly string[] | undefined, at: number): void {
    this.counters.disconnects++;
    const exchange = this.registry.exchanges.get(exchangeName);
    if (exchange) this.coverage.closeLost(exchange, symbols, at);
  }
}

/**
 * Encoded batches out: hands each batch to the publisher within a bound on unsettled bytes, and accounts
 * for the outcome. An acknowledged batch extends its stream's recorded coverage; a refused or failed one is
 * logged with its window and counted, and its window never becomes coverage (downstream backfills it).
 */
class BatchPublishing {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly latency = new LatencyWindow();

  constructor(
    private readonly publisher: TickPublisher,
    private readonly counters: RelayCounters,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly maxInFlightBytes: number,
  ) {}

  publish(batch: SealedBatch, state: StreamState): void {
    const size = batch.message.data.length;
    if (this.counters.inFlightBytes + size > this.maxInFlightBytes) {
      this.refuse(batch, state);
      return;
    }
    this.counters.inFlightBytes += size;
    this.counters.inFlightBatches++;
    const startedAt = this.clock.now();
    const done = this.publisher.publish(batch.message).then(
      () => this.acknowledged(batch, state, startedAt),
      (error: unknown) => this.failed(batch, state, startedAt, error),
    );
    const tracked = done.finally(() => {
      this.counters.inFlightBytes -= size;
      this.counters.inFlightBatches--;
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
  }

  /** Waits until every publish handed over so far (and any started meanwhile) has settled. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Publish latencies since the previous call. */
  takeLatency(): LatencySummary {
    return this.latency.take();
  }

  /** The in-flight bound is full: the batch is dropped and its window stays uncovered. */
  private refuse(batch: SealedBatch, state: StreamState): void {
    const { from, to } = batch.window;
    this.counters.backpressureDrops++;
    this.counters.ticksLostBackpressure += batch.count;
    this.counters.uncoveredMs += to - from;
    this.logger.log('ERROR', 'publisher backlog full; batch dropped, its window stays uncovered', {
      stream: state.id,
      batchId: batch.message.attributes.batch,
      ticks: batch.count,
      windowFrom: from,
      windowTo: to,
      inFlightBytes: this.counters.inFlightBytes,
    });
  }

  private acknowledged(batch: SealedBatch, state: StreamState, startedAt: number): void {
    const now = this.clock.now();
    const ticks = batch.count;
    this.counters.batchesOut++;
    if (ticks === 0) this.counters.heartbeatsOut++;
    this.counters.ticksPublished += ticks;
    this.counters.bytesPublished += batch.message.data.length;
    this.counters.publishLatencyMsTotal += now - startedAt;
    this.latency.record(now - startedAt);
    state.lastPublishAt = now;
    const to = batch.window.to;
    if (state.coveredTo === null || to > state.coveredTo) state.coveredTo = to;
  }

  private failed(batch: SealedBatch, state: StreamState, startedAt: number, error: unknown): void {
    const { from, to } = batch.window;
    this.counters.publishFailures++;
    this.counters.ticksLostPublish += batch.count;
    this.counters.uncoveredMs += to - from;
    this.logger.log('ERROR', 'publish failed; batch lost, its window stays uncovered', {
      stream: state.id,
      batchId: batch.message.attributes.batch,
      ticks: batch.count,
      windowFrom: from,
      windowTo: to,
      afterMs: this.clock.now() - startedAt,
      error,
    });
  }
}
