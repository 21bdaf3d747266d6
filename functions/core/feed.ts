import type { Tick } from './tick.ts';

/** What a live exchange feed yields: ticks, and disconnects that end coverage. */
export type FeedEvent =
  | { readonly kind: 'tick'; readonly tick: Tick }
  | {
      readonly kind: 'disconnect';
      readonly exchange: string;
      /** Symbols affected, or undefined for all of the exchange's symbols. */
      readonly symbols: readonly string[] | undefined;
      /** Relay wall-clock ms when the connection was found lost. */
      readonly at: number;
    };

/** A live source of normalized ticks for a set of streams (tardis-dev in production). */
export interface TickFeed {
  events(signal: AbortSignal): AsyncIterable<FeedEvent>;
}
