import type { Clock } from '../ports.ts';
import { carriedRowId } from '../model/row-id.ts';
import type { Tick } from '../model/tick.ts';
import type { RelayCounters } from './counters.ts';
import { coverageBoundary, noteEvidence, type Coverage } from './coverage.ts';
import type { FeedEvent } from '../ports.ts';
import type { BatchSink } from './batch-sink.ts';
import { ofType, type StreamRegistry, type StreamState } from './stream-registry.ts';
import { exchangeDescriptor } from '../exchanges/index.ts';
import type { StreamKey } from '../model/streams.ts';
import type { TradeIdJump } from '../ports.ts';
import { checkTradeId, newTrack, type TradeIdTrack } from './trade-id-check.ts';

/** Feed events in: each tick is evidence, opens coverage when it proves a subscription, and is batched. */
export class RelayIntake {
  private open = true;
  /** Trade-id continuity of the trade streams of exchanges with contiguous ids (decisions/0029). */
  private readonly tradeIds = new Map<StreamState, TradeIdTrack>();

  constructor(
    private readonly registry: StreamRegistry,
    private readonly coverage: Coverage,
    private readonly publishing: BatchSink,
    private readonly counters: RelayCounters,
    private readonly clock: Clock,
    private readonly onTradeIdJump?: (stream: StreamKey, jump: TradeIdJump) => void,
  ) {
    // The check is on when someone records the jumps (RELAY_TRADE_ID_CHECK); off, windows tile as before.
    for (const exchange of onTradeIdJump ? registry.exchanges.values() : []) {
      if (!exchangeDescriptor(exchange.name)?.contiguousTradeIds) continue;
      for (const state of exchange.trade.values()) this.tradeIds.set(state, newTrack());
    }
  }

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
    if (tick.type === 'trade') {
      const track = this.tradeIds.get(state);
      const jump = track && checkTradeId(track, tick.id, at);
      if (jump) this.cutAtJump(state, jump);
    }
    if (!state.batcher.isCovering) this.coverage.openType(bySymbol, at);
    const now = this.clock.now();
    // Keyed row ids (trade id, update id) are the writer's to derive; only content-hash ids are built here.
    const batch = state.batcher.add(tick, carriedRowId(tick), now, coverageBoundary(exchange, now));
    if (batch) this.publishing.publish(batch, state);
  }

  /**
   * Trades are missing between `jump.before` and `jump.after`: coverage ends at the last trade before
   * (or where the open window began, if later) and resumes with this one, so the hole travels with the
   * data; the exact gap goes to the ledger through the hook.
   */
  private cutAtJump(state: StreamState, jump: TradeIdJump): void {
    if (state.batcher.isCovering) {
      const batch = state.batcher.close(jump.before);
      if (batch) this.publishing.publish(batch, state);
      state.batcher.open(jump.after);
    }
    this.onTradeIdJump?.(state.key, jump);
  }

  private onDisconnect(exchangeName: string, symbols: readonly string[] | undefined, at: number): void {
    this.counters.disconnects++;
    const exchange = this.registry.exchanges.get(exchangeName);
    if (!exchange) return;
    this.coverage.closeLost(exchange, symbols, at);
    // A new connection starts a new sequence: the trades missed while down are the coverage hole's, not a jump.
    for (const [symbol, state] of exchange.trade) {
      if (this.tradeIds.has(state) && (symbols === undefined || symbols.includes(symbol)))
        this.tradeIds.set(state, newTrack());
    }
  }
}
