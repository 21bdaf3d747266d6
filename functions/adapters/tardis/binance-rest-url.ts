import { getRealTimeFeedFactory, setRealTimeFeedFactory } from 'tardis-dev';

type FeedClass = new (...args: unknown[]) => { httpURL?: string };
let binanceSpotFeed: FeedClass | undefined;

/**
 * Points tardis-dev's Binance spot feed at another REST base for the order book snapshot it fetches
 * (`${url}/exchangeInfo`, `${url}/depth?symbol=X&limit=1000`): `WSS_URL_BINANCE` redirects only the
 * websocket, the REST base is a class field. Installs a subclass with that field through
 * `setRealTimeFeedFactory`, process-wide; `undefined` restores tardis-dev's own class.
 */
export function useBinanceRestUrl(url: string | undefined): void {
  binanceSpotFeed ??= getRealTimeFeedFactory('binance') as unknown as FeedClass;
  const base = binanceSpotFeed;
  if (url === undefined) {
    setRealTimeFeedFactory('binance', base as unknown as Parameters<typeof setRealTimeFeedFactory>[1]);
    return;
  }
  class RedirectedBinanceFeed extends base {
    constructor(...args: unknown[]) {
      super(...args);
      this.httpURL = url;
    }
  }
  setRealTimeFeedFactory(
    'binance',
    RedirectedBinanceFeed as unknown as Parameters<typeof setRealTimeFeedFactory>[1],
  );
}
