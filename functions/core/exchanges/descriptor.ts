import type { DataType } from '../model/streams.ts';

/** A raw exchange message, as parsed from its JSON. */
export type RawMessage = Readonly<Record<string, unknown>>;

/** An exchange refusing a subscription: the configured symbols it refuses, and its words. */
export interface Refusal {
  readonly symbols: readonly string[];
  readonly reason: string;
}

/**
 * What tickstream knows about one exchange, free of any client library: one such object per exchange,
 * in this folder, registered in index.ts. tardis-dev's part (its normalizers) is adapters/tardis/exchanges.ts.
 */
export interface ExchangeDescriptor {
  /** The name in stream ids, row ids and tardis-dev: `binance`. */
  readonly id: string;
  /** The exchange numbers trades 1, 2, 3... per symbol, so a jump in ids is a hole. */
  readonly contiguousTradeIds: boolean;
  /**
   * The shape of a symbol as tardis-dev's real-time feed takes it, lower-cased. The relay has no exchange
   * REST access at start, so this format check is what it can know offline.
   */
  readonly symbol: { readonly pattern: RegExp; readonly example: string; readonly hint: string };
  /**
   * The Tardis channels of each data type it records (absent: not recorded). tardis-dev subscribes to
   * them live and asks the Tardis data feed for them in history: the same names both ways.
   */
  readonly channels: Readonly<Partial<Record<DataType, readonly string[]>>>;
  /**
   * The exchange's id of a best bid/ask update in its raw message, or undefined. tardis-dev's normalized
   * book ticker drops it; it is the quote's identity in its row id.
   */
  readonly bookTickerUpdateId: (message: RawMessage) => unknown;
  /**
   * The identity of a raw message that feeds the derivative ticker: its channel and exchange event time
   * (`markPrice:1700000000000`), or undefined. It keys the ticker's row id, because the merged state
   * tardis-dev emits differs between a live run and a replay that starts mid-stream (decisions/0024).
   * Absent: the ticker's row id is a content hash of the merged state.
   */
  readonly derivativeTickerEventKey?: (message: RawMessage) => unknown;
  /**
   * Whether an error message the exchange sent (its JSON body) refuses our subscription: permanent, the
   * configuration names something it does not list. Undefined for anything else (tardis-dev reconnects).
   */
  readonly refusal: (body: RawMessage, configured: readonly string[]) => Refusal | undefined;
  /**
   * At most this many streams (`exchange:symbol:type`) on one connection, i.e. one shard of the fleet
   * (functions/core/fleet/shards.ts). At or below the exchange's own cap; why each value: decisions/0021.
   */
  readonly maxStreamsPerConnection: number;
}
