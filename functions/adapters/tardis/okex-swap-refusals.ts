import { getRealTimeFeedFactory, setRealTimeFeedFactory } from 'tardis-dev';

type RealTimeFeedClass = Parameters<typeof setRealTimeFeedFactory>[1];
/** One websocket of tardis-dev's OKX feed: the error filter is all this patch touches. */
interface OkexSocketFeed {
  isIgnoredError(message: { msg?: unknown }): boolean;
}
type OkexFeedClass = new (...args: unknown[]) => {
  _getRealTimeFeeds(...args: unknown[]): Iterable<OkexSocketFeed>;
};

/** OKX's answer naming an instrument it does not list (code 60018): `... instId:BTC-XYZ-SWAP doesn't exist`. */
export function namesUnknownInstrument(message: { msg?: unknown }): boolean {
  return typeof message.msg === 'string' && /instId:\S+ doesn't exist/.test(message.msg);
}

let installed = false;

/**
 * Makes OKX's refusal of an unlisted swap an error in tardis-dev's `okex-swap` feed. tardis-dev ignores every
 * OKX error whose text says a channel "doesn't exist", and 60018 for an unknown instId says so too: the
 * feed would then run on without the refused stream, silently. With this, tardis-dev reports it as
 * `Received error message: ...` and the relay stops naming the stream (classifyFeedError, the okex-swap
 * descriptor's `refusal`). Other ignored errors stay ignored. Process-wide and idempotent.
 */
export function useOkexSwapRefusals(): void {
  if (installed) return;
  installed = true;
  const base = getRealTimeFeedFactory('okex-swap') as unknown as OkexFeedClass;
  class RefusingOkexSwapFeed extends base {
    override *_getRealTimeFeeds(...args: unknown[]): Iterable<OkexSocketFeed> {
      for (const feed of super._getRealTimeFeeds(...args)) {
        const ignored = feed.isIgnoredError.bind(feed);
        feed.isIgnoredError = (message) => !namesUnknownInstrument(message) && ignored(message);
        yield feed;
      }
    }
  }
  setRealTimeFeedFactory('okex-swap', RefusingOkexSwapFeed as unknown as RealTimeFeedClass);
}
