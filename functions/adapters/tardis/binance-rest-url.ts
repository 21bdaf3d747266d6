import { getRealTimeFeedFactory, setRealTimeFeedFactory } from 'tardis-dev';

type FeedClass = new (...args: unknown[]) => { httpURL?: string };
type Factory = Parameters<typeof setRealTimeFeedFactory>[1];
/** The Binance feeds whose REST base can move, and tardis-dev's own class of each once seen. */
type BinanceFeed = 'binance' | 'binance-futures';
const ownFeeds = new Map<BinanceFeed, FeedClass>();

/**
 * Points tardis-dev's real-time feed of a Binance exchange at another REST base for what its feed fetches
 * over REST (`${url}/exchangeInfo`, `${url}/depth?symbol=X&limit=1000`; futures also polls
 * `${url}/openInterest?symbol=X`): `WSS_URL_<EXCHANGE>` redirects only the websocket, the REST base is a
 * class field. Installs a subclass with that field through `setRealTimeFeedFactory`, process-wide;
 * `undefined` restores tardis-dev's own class.
 */
export function useBinanceFeedRestUrl(exchange: BinanceFeed, url: string | undefined): void {
  const base = ownFeeds.get(exchange) ?? (getRealTimeFeedFactory(exchange) as unknown as FeedClass);
  ownFeeds.set(exchange, base);
  if (url === undefined) {
    setRealTimeFeedFactory(exchange, base as unknown as Factory);
    return;
  }
  class RedirectedBinanceFeed extends base {
    constructor(...args: unknown[]) {
      super(...args);
      this.httpURL = url;
    }
  }
  setRealTimeFeedFactory(exchange, RedirectedBinanceFeed as unknown as Factory);
}

/** Binance spot's REST base for its order book snapshots (`REST_URL_BINANCE`): see useBinanceFeedRestUrl. */
export function useBinanceRestUrl(url: string | undefined): void {
  useBinanceFeedRestUrl('binance', url);
}
