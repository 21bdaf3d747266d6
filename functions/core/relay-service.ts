import { StreamBatcher, type BatchLimits } from './batcher.ts';
import type { FeedEvent, TickFeed } from './feed.ts';
import { encodeBatch, type Batch } from './message.ts';
import type { Clock, Logger, TickPublisher } from './ports.ts';
import { rowId } from './row-id.ts';
import { streamId, type StreamKey } from './streams.ts';

export interface RelayOptions {
  readonly relayId: string;
  readonly streams: readonly StreamKey[];
  readonly limits: BatchLimits;
  /** Bound on bytes handed to the publisher and not yet acknowledged; past it, batches become holes. */
  readonly maxInFlightBytes: number;
  /** How often batchers are polled for time-based flushes. */
  readonly tickIntervalMs: number;
}

export interface RelayCounters {
  ticksIn: number;
  ticksIgnored: number;
  batchesOut: number;
  ticksPublished: number;
  publishFailures: number;
  ticksLostPublish: number;
  ticksLostBackpressure: number;
  disconnects: number;
  inFlightBytes: number;
  publishLatencyMsTotal: number;
}

export interface StreamStatus {
  readonly stream: string;
  readonly covering: boolean;
  readonly lastTickAt: number | null;
  readonly lastPublishAt: number | null;
}

/**
 * The relay's core: feed events in, batches out, coverage accounted. Nothing is dropped silently:
 * a batch that cannot be published is logged and counted and its window simply never becomes coverage,
 * which downstream sees as a hole and backfills.
 */
export class RelayService {
  readonly counters: RelayCounters = {
    ticksIn: 0,
    ticksIgnored: 0,
    batchesOut: 0,
    ticksPublished: 0,
    publishFailures: 0,
    ticksLostPublish: 0,
    ticksLostBackpressure: 0,
    disconnects: 0,
    inFlightBytes: 0,
    publishLatencyMsTotal: 0,
  };
  private readonly batchers = new Map<string, StreamBatcher>();
  private readonly lastTickAt = new Map<string, number>();
  private readonly lastPublishAt = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly feed: TickFeed,
    private readonly publisher: TickPublisher,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: RelayOptions,
  ) {
    for (const stream of options.streams) {
      this.batchers.set(streamId(stream), new StreamBatcher(stream, options.relayId, options.limits));
    }
  }

  /** Starts consuming the feed; resolves when the feed ends or stop() is called. */
  start(): Promise<void> {
    if (this.running) return this.running;
    this.timer = setInterval(() => this.pollAll(), this.options.tickIntervalMs);
    this.running = this.consume().finally(() => {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
    });
    return this.running;
  }

  /** Stops intake, closes every coverage window, publishes what is buffered and waits for it. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  status(): StreamStatus[] {
    return [...this.batchers.entries()].map(([id, batcher]) => ({
      stream: id,
      covering: batcher.isCovering,
      lastTickAt: this.lastTickAt.get(id) ?? null,
      lastPublishAt: this.lastPublishAt.get(id) ?? null,
    }));
  }

  get bufferedBytes(): number {
    let bytes = this.counters.inFlightBytes;
    for (const batcher of this.batchers.values()) bytes += batcher.bufferedBytes;
    return bytes;
  }

  private async consume(): Promise<void> {
    try {
      for await (const event of this.feed.events(this.abort.signal)) {
        if (this.abort.signal.aborted) break;
        this.onEvent(event);
      }
    } catch (error) {
      if (!this.abort.signal.aborted) {
        this.logger.log('ERROR', 'feed failed', { error });
        throw error;
      }
    }
  }

  private onEvent(event: FeedEvent): void {
    const now = this.clock.now();
    if (event.kind === 'disconnect') {
      this.counters.disconnects++;
      for (const batcher of this.batchers.values()) {
        const { exchange, symbol } = batcher.stream;
        if (exchange !== event.exchange) continue;
        if (event.symbols && !event.symbols.includes(symbol)) continue;
        const batch = batcher.close(Math.max(event.at, 0));
        if (batch) this.publish(batch);
      }
      this.logger.log('WARNING', 'exchange connection lost; coverage closed', {
        exchange: event.exchange,
        symbols: event.symbols,
        at: new Date(event.at).toISOString(),
      });
      return;
    }
    const { tick } = event;
    this.counters.ticksIn++;
    const id = `${tick.exchange}:${tick.symbol}:${tick.type}`;
    const batcher = this.batchers.get(id);
    if (!batcher) {
      this.counters.ticksIgnored++;
      return;
    }
    this.lastTickAt.set(id, now);
    // The first message after a (re)connect proves the connection is subscribed: open every stream of
    // that exchange, so quiet symbols are covered too.
    if (!batcher.isCovering) this.openExchange(tick.exchange, Math.floor(tick.localTs / 1000));
    const batch = batcher.add(tick, rowId(tick), now);
    if (batch) this.publish(batch);
  }

  private openExchange(exchange: string, at: number): void {
    for (const batcher of this.batchers.values()) {
      if (batcher.stream.exchange === exchange) batcher.open(at);
    }
  }

  private pollAll(): void {
    const now = this.clock.now();
    for (const batcher of this.batchers.values()) {
      const batch = batcher.poll(now);
      if (batch) this.publish(batch);
    }
  }

  private publish(batch: Batch): void {
    const message = encodeBatch(batch);
    const size = message.data.length;
    const id = streamId(batch.stream);
    if (this.counters.inFlightBytes + size > this.options.maxInFlightBytes) {
      this.counters.ticksLostBackpressure += batch.ticks.length;
      this.logger.log('ERROR', 'publisher backlog full; batch becomes an uncovered window', {
        stream: id,
        batchId: message.attributes.batch,
        ticks: batch.ticks.length,
        windowFrom: batch.window.from,
        windowTo: batch.window.to,
        inFlightBytes: this.counters.inFlightBytes,
      });
      return;
    }
    this.counters.inFlightBytes += size;
    const startedAt = this.clock.now();
    const done = this.publisher.publish(message).then(
      () => {
        this.counters.batchesOut++;
        this.counters.ticksPublished += batch.ticks.length;
        this.counters.publishLatencyMsTotal += this.clock.now() - startedAt;
        this.lastPublishAt.set(id, this.clock.now());
      },
      (error: unknown) => {
        this.counters.publishFailures++;
        this.counters.ticksLostPublish += batch.ticks.length;
        this.logger.log('ERROR', 'publish failed; batch becomes an uncovered window', {
          stream: id,
          batchId: message.attributes.batch,
          ticks: batch.ticks.length,
          windowFrom: batch.window.from,
          windowTo: batch.window.to,
          error,
        });
      },
    );
    const tracked = done.finally(() => {
      this.counters.inFlightBytes -= size;
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
  }

  private async drain(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const now = this.clock.now();
    for (const batcher of this.batchers.values()) {
      const batch = batcher.close(now);
      if (batch) this.publish(batch);
    }
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    await this.publisher.close();
    await this.running?.catch(() => undefined);
  }
}
