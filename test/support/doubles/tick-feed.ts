import type { FeedEvent, TickFeed } from '../../../functions/core/ports.ts';

/** A TickFeed double the test drives: `push` hands an event to the running sink; abort ends the run. */
export class FakeFeed implements TickFeed {
  sink: ((event: FeedEvent) => void) | undefined;
  run(sink: (event: FeedEvent) => void, signal: AbortSignal): Promise<void> {
    this.sink = sink;
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
  push(event: FeedEvent): void {
    this.sink!(event);
  }
}
