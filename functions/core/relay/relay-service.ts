import type { BatchLimits } from './batcher.ts';
import type { Clock, FeedEvent, Logger, TickFeed, TickPublisher, TradeIdJump } from '../ports.ts';
import { newCounters, type RelayCounters } from './counters.ts';
import type { StreamKey } from '../model/streams.ts';
import { Coverage } from './coverage.ts';
import type { MessageEncoding } from '../contract/compression.ts';
import { RelayIntake } from './intake.ts';
import type { BatchSink } from './batch-sink.ts';
import { BatchPublishing, type PublishLatency } from './publishing.ts';
import { DEFAULT_BUNDLE_LIMITS, type BundleLimits, type MessageFormat } from './bundler.ts';
import { StreamRegistry, type StreamState, type StreamStatus } from './stream-registry.ts';

export interface RelayOptions {
  readonly relayId: string;
  readonly streams: readonly StreamKey[];
  readonly limits: BatchLimits;
  /** Bound on bytes handed to the publisher and not yet settled; past it, batches become holes. */
  readonly maxInFlightBytes: number;
  /** `v4` (default): many batches per message, cut at `bundleLimits` (bytes, batches, wait); `v3`: one each. */
  readonly messageFormat?: MessageFormat;
  readonly bundleLimits?: BundleLimits;
  /** How often batchers are polled for time-based cuts and heartbeats (and bundles are sent). */
  readonly tickIntervalMs: number;
  /** Called once per stream, the first time its coverage opens in this process (startup recovery). */
  readonly onFirstCoverage?: (stream: StreamKey, from: number) => void;
  /** How v4 bundles travel: gzipped (`encoding` attribute) or as they are (default). */
  readonly messageEncoding?: MessageEncoding;
  /**
   * Turns the trade-id check on: a jump in a contiguous-id trade stream ends its coverage window there
   * and is handed to this hook, which records the gap (decisions/0029).
   */
  readonly onTradeIdJump?: (stream: StreamKey, jump: TradeIdJump) => void;
  /** Puts a gate between cut batches and the broker (a fleet shard's standby buffer); default: none. */
  readonly sink?: (publishing: BatchPublishing) => BatchSink;
}

export type { RelayCounters } from './counters.ts';
export type { StreamStatus } from './stream-registry.ts';

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
    this.publishing = new BatchPublishing(
      publisher,
      this.counters,
      clock,
      logger,
      options.maxInFlightBytes,
      options.messageFormat ?? 'v4',
      bundleLimitsForPolling(options.bundleLimits ?? DEFAULT_BUNDLE_LIMITS, options.tickIntervalMs),
      options.messageEncoding,
    );
    const sink = options.sink?.(this.publishing) ?? this.publishing;
    this.coverage = new Coverage(this.registry, sink, clock, logger, options.onFirstCoverage);
    this.intake = new RelayIntake(
      this.registry,
      this.coverage,
      sink,
      this.counters,
      clock,
      options.onTradeIdJump,
    );
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

  /** The live per-stream state (a fleet shard reads its streams' acknowledged coverage from it). */
  streamStates(): readonly StreamState[] {
    return this.registry.streams;
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
  takeLatency(): PublishLatency {
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

/** Bundles are sent on the same poll: cut one poll early, so no bundle waits past its bound. */
function bundleLimitsForPolling(limits: BundleLimits, tickIntervalMs: number): BundleLimits {
  return { ...limits, maxWaitMs: Math.max(0, limits.maxWaitMs - tickIntervalMs) };
}
