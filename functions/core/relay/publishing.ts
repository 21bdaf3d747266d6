import type { EncodedMessage, SealedBatch } from '../contract/batch.ts';
import { encodeBundle } from '../contract/bundle.ts';
import { encodeMessage, type MessageEncoding } from '../contract/compression.ts';
import type { Clock, Logger, TickPublisher } from '../ports.ts';
import { LatencyWindow } from '../shared/latency-window.ts';
import { logSignal } from '../shared/signals.ts';
import { Bundler, type Bundle, type Bundled, type BundleLimits, type MessageFormat } from './bundler.ts';
import type { RelayCounters } from './counters.ts';
import type { StreamState } from './stream-registry.ts';

/**
 * Publish latencies of one metrics interval, as the relay logs them (`publishLatencyMs`): whole ms from the
 * clock, unrounded, null when nothing was published.
 */
export interface PublishLatency {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/**
 * Encoded batches out: hands batches to the publisher, one message each (v3) or bundled many to a message
 * (v4), within a bound on unsettled bytes, and accounts for each batch's outcome. An acknowledged batch
 * extends its stream's recorded coverage; a refused or failed one is logged with its window and counted,
 * and its window never becomes coverage (downstream backfills it).
 */
export class BatchPublishing {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly latency = new LatencyWindow();
  /** Open bundles (v4); undefined when every batch is its own message (v3). */
  private readonly bundler: Bundler | undefined;

  constructor(
    private readonly publisher: TickPublisher,
    private readonly counters: RelayCounters,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly maxInFlightBytes: number,
    format: MessageFormat,
    bundleLimits: BundleLimits,
    private readonly encoding: MessageEncoding = 'identity',
  ) {
    this.bundler = format === 'v4' ? new Bundler(bundleLimits) : undefined;
  }

  /** Publishes a batch now (v3), or adds it to its bundle, published when full or by `flush` once due. */
  publish(batch: SealedBatch, state: StreamState): void {
    const size = batch.message.data.length;
    // A bundled batch is held in memory until its bundle settles: it counts as in flight from here.
    if (this.counters.inFlightBytes + size > this.maxInFlightBytes) {
      this.refuse(batch, state);
      return;
    }
    this.counters.inFlightBytes += size;
    this.counters.inFlightBatches++;
    if (this.bundler === undefined) {
      this.send([{ batch, state }], withFleetAttributes(batch));
      return;
    }
    const full = this.bundler.add(batch, state, this.clock.now());
    if (full) this.sendBundle(full);
  }

  /** Publishes the open bundles that have waited their bound (called after each poll). */
  flush(): void {
    for (const bundle of this.bundler?.takeDue(this.clock.now()) ?? []) this.sendBundle(bundle);
  }

  /** Publishes every open bundle now, due or not (stop, a fleet shard's step-down). */
  flushAll(): void {
    for (const bundle of this.bundler?.takeAll() ?? []) this.sendBundle(bundle);
  }

  /** Waits until every publish handed over so far (and any started meanwhile) has settled. */
  async settle(): Promise<void> {
    this.flushAll();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Publish latencies since the previous call. */
  takeLatency(): PublishLatency {
    const latency = this.latency;
    const taken = {
      count: latency.count,
      p50: latency.quantile(0.5),
      p99: latency.quantile(0.99),
      max: latency.max,
    };
    latency.reset();
    return taken;
  }

  private sendBundle(bundle: Bundle): void {
    const { entries, shard, epoch } = bundle;
    let ticks = 0;
    for (const { batch } of entries) ticks += batch.count;
    const sections = entries.map(({ batch }) => batch.message.data);
    const relayId = entries[0]!.batch.message.attributes.relay!;
    const fleet = { ...(shard === undefined ? {} : { shard }), ...(epoch === undefined ? {} : { epoch }) };
    this.send(entries, encodeMessage(encodeBundle(sections, { relayId, ticks, ...fleet }), this.encoding));
  }

  /** Publishes one message carrying `entries`; each batch's outcome is accounted when it settles. */
  private send(entries: readonly Bundled[], message: EncodedMessage): void {
    let size = 0;
    for (const { batch } of entries) size += batch.message.data.length;
    const startedAt = this.clock.now();
    const done = this.publisher.publish(message).then(
      () => {
        for (const { batch, state } of entries) this.acknowledged(batch, state, startedAt);
      },
      (error: unknown) => {
        for (const { batch, state } of entries) this.failed(batch, state, startedAt, error);
      },
    );
    const tracked = done.finally(() => {
      this.counters.inFlightBytes -= size;
      this.counters.inFlightBatches -= entries.length;
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
  }

  /** The in-flight bound is full: the batch is dropped and its window stays uncovered. */
  private refuse(batch: SealedBatch, state: StreamState): void {
    this.counters.backpressureDrops++;
    this.counters.ticksLostBackpressure += batch.count;
    this.lose(batch, state, 'relay_backlog_dropped', {
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
    this.counters.publishFailures++;
    this.counters.ticksLostPublish += batch.count;
    this.lose(batch, state, 'relay_publish_failed', {
      afterMs: this.clock.now() - startedAt,
      error,
    });
  }

  /** A batch that will not reach the broker: its window counts as uncovered and is logged with the batch. */
  private lose(
    batch: SealedBatch,
    state: StreamState,
    signal: 'relay_publish_failed' | 'relay_backlog_dropped',
    fields: Record<string, unknown>,
  ): void {
    const { from, to } = batch.window;
    this.counters.uncoveredMs += to - from;
    logSignal(this.logger, signal, {
      stream: state.id,
      batchId: batch.message.attributes.batch,
      ticks: batch.count,
      windowFrom: from,
      windowTo: to,
      uncoveredMs: to - from,
      ...fields,
    });
  }
}

/** A v3 message as published: a fleet relay adds the shard and the epoch it publishes under (audit only). */
function withFleetAttributes(batch: SealedBatch): EncodedMessage {
  const { message, shard, epoch } = batch;
  if (shard === undefined) return message;
  const fleet: Record<string, string> = { shard };
  if (epoch !== undefined) fleet.epoch = String(epoch);
  return { data: message.data, attributes: { ...message.attributes, ...fleet } };
}
