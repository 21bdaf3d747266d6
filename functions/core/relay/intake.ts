import type { Clock } from '../ports.ts';
import { carriedRowId } from '../model/row-id.ts';
import type { Tick } from '../model/tick.ts';
import type { RelayCounters } from './counters.ts';
import { coverageBoundary, noteEvidence, type Coverage } from './coverage.ts';
import type { FeedEvent } from '../ports.ts';
import type { BatchSink } from './batch-sink.ts';
import { ofType, type StreamRegistry } from './stream-registry.ts';

/** Feed events in: each tick is evidence, opens coverage when it proves a subscription, and is batched. */
export class RelayIntake {
  private open = true;

  constructor(
    private readonly registry: StreamRegistry,
    private readonly coverage: Coverage,
    private readonly publishing: BatchSink,
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
