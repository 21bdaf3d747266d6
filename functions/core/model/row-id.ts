import { createHash } from 'node:crypto';
import type { Tick } from './tick.ts';

/**
 * The deterministic identity of one exchange event. The same event gets the same id whether it arrives
 * live from the relay or later from Tardis history, so BigQuery's insertId and the dedup views collapse
 * overlaps. An event with an exchange key uses it: trades their trade id (`t:<id>`), quotes their update
 * id (`q:<updateId>`), liquidations their order id (`l:<id>`), derivative tickers the channel and event
 * time of the raw message (`d:<eventKey>`). Everything else hashes the normalized event without its local
 * receive time, which differs between the live and the historical recorder (decisions/0002, 0024).
 */
export function rowId(tick: Tick): string {
  const key = exchangeKey(tick);
  return key === undefined
    ? hashedRowId(tick)
    : `${tick.exchange}:${tick.symbol}:${KEY_CODE[tick.type]}:${key}`;
}

/** Whether the tick's id is derived from a key it carries (trade id, update id, event key), not a hash. */
export function hasKeyedRowId(tick: Tick): boolean {
  return exchangeKey(tick) !== undefined;
}

/**
 * The row id a v2 or v3 message carries for a tick: undefined when the id is keyed (the reader derives it
 * from the key in the tick, see `rowId`), else the content hash id, which travels with the tick.
 */
export function carriedRowId(tick: Tick): string | undefined {
  return hasKeyedRowId(tick) ? undefined : hashedRowId(tick);
}

/** Row id codes of keyed ids, by type (a book change is always hashed). */
const KEY_CODE: Readonly<Record<Tick['type'], string>> = {
  trade: 't',
  book_ticker: 'q',
  book_change: '',
  derivative_ticker: 'd',
  liquidation: 'l',
};
/** Row id codes of content-hash ids, by type (`q` and `b` predate the others and stay as they are). */
const HASH_CODE: Readonly<Record<Tick['type'], string>> = {
  trade: 'th',
  book_ticker: 'q',
  book_change: 'b',
  derivative_ticker: 'dh',
  liquidation: 'lh',
};

/** The exchange's key of the event, or undefined when it has none (then the id is a content hash). */
function exchangeKey(tick: Tick): string | number | undefined {
  let key: string | number | undefined;
  switch (tick.type) {
    case 'trade':
    case 'liquidation':
      key = tick.id;
      break;
    case 'book_ticker':
      key = tick.updateId;
      break;
    case 'derivative_ticker':
      key = tick.eventKey;
      break;
    case 'book_change':
      return undefined;
  }
  return key === '' ? undefined : key;
}

function hashedRowId(tick: Tick): string {
  return `${tick.exchange}:${tick.symbol}:${HASH_CODE[tick.type]}:${contentHash(tick)}`;
}

function contentHash(tick: Tick): string {
  let canonical: string;
  switch (tick.type) {
    case 'trade':
    case 'liquidation':
      canonical = `${tick.ts}|${tick.price}|${tick.amount}|${tick.side}`;
      break;
    case 'book_ticker':
      canonical = `${tick.ts}|${tick.bidPrice}|${tick.bidAmount}|${tick.askPrice}|${tick.askAmount}`;
      break;
    case 'book_change':
      canonical = `${tick.ts}|${tick.isSnapshot ? 1 : 0}|${levels(tick.bids)}|${levels(tick.asks)}`;
      break;
    case 'derivative_ticker':
      canonical =
        `${tick.ts}|${tick.lastPrice}|${tick.openInterest}|${tick.fundingRate}|${tick.fundingTs}|` +
        `${tick.predictedFundingRate}|${tick.indexPrice}|${tick.markPrice}`;
      break;
  }
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

function levels(list: readonly { price: number; amount: number }[]): string {
  let out = '';
  for (const level of list) out += `${level.price}@${level.amount},`;
  return out;
}
