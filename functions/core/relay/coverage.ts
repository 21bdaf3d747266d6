import type { Clock, Logger } from '../ports.ts';
import type { StreamKey } from '../model/streams.ts';
import type { BatchSink } from './batch-sink.ts';
import { logSignal } from '../shared/signals.ts';
import type { ExchangeState, StreamRegistry, StreamState } from './stream-registry.ts';

/** A message received at `at` (ms) was delivered: evidence that its exchange's connection was alive then. */
export function noteEvidence(exchange: ExchangeState, at: number): void {
  if (at > exchange.proofMs) exchange.proofMs = at;
}

/** Coverage may be claimed up to `now` and up to the exchange's last evidence, whichever is earlier. */
export function coverageBoundary(exchange: ExchangeState, now: number): number {
  return Math.min(now, exchange.proofMs + 1);
}

/**
 * Opens and closes the streams' coverage windows and cuts them at the evidence boundary. A window opens
 * when data proves a subscription, closes when its connection is lost or the relay stops, and never
 * claims time past the last message received.
 */
export class Coverage {
  constructor(
    private readonly registry: StreamRegistry,
    private readonly publishing: BatchSink,
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
    this.publishing.flush();
    logSignal(this.logger, 'relay_connection_lost', {
      exchange: exchange.name,
      lastReceivedAt: at,
      closedAt: boundary,
      closed: closed.length,
    });
  }

  /** Cuts every batch that is due (time limit or heartbeat), up to its exchange's boundary, and sends the bundles. */
  cutDue(): void {
    const now = this.clock.now();
    for (const exchange of this.registry.exchanges.values()) {
      const boundary = coverageBoundary(exchange, now);
      for (const s of exchange.streams) {
        const batch = s.batcher.poll(now, boundary);
        if (batch) this.publishing.publish(batch, s);
      }
    }
    this.publishing.flush();
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
    this.publishing.flush();
  }
}
