import type { Tick } from '../model/tick.ts';

/** What a live exchange feed delivers: ticks, and disconnects that end coverage. */
export type FeedEvent =
  | { readonly kind: 'tick'; readonly tick: Tick }
  | {
      readonly kind: 'disconnect';
      readonly exchange: string;
      /** Symbols affected, or undefined for all of the exchange's symbols. */
      readonly symbols: readonly string[] | undefined;
      /** Receive time (ms) of the last message the lost connection delivered. */
      readonly at: number;
    };

/**
 * A live source of normalized ticks for a set of streams (tardis-dev in production).
 *
 * `run` hands every event to `sink` synchronously, in the order each exchange connection received it,
 * and never buffers a received event across a timer turn: whenever other code runs, every message
 * stamped with a receive time so far has been delivered. The relay's coverage claims rest on that.
 * It resolves when `signal` aborts and rejects when the feed cannot continue (e.g. FeedRejectedError).
 */
export interface TickFeed {
  run(sink: (event: FeedEvent) => void, signal: AbortSignal): Promise<void>;
}

/** An exchange refused a configured stream (e.g. an unknown symbol): retrying cannot help. */
export class FeedRejectedError extends Error {
  override readonly name = 'FeedRejectedError';
  constructor(
    readonly exchange: string,
    /** The configured symbols the refusal names (all of the exchange's when it names none). */
    readonly symbols: readonly string[],
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${exchange} rejected the subscription for ${symbols.join(', ')}: ${reason}`, options);
  }
}
