import { createHash } from 'node:crypto';
import type { Tick } from './tick.ts';

/**
 * The deterministic identity of one exchange event. The same event gets the same id whether it arrives
 * live from the relay or later from Tardis history, so BigQuery's insertId and the dedup views collapse
 * overlaps. Trades with an exchange trade id use it (`t:<id>`), quotes with an exchange update id use
 * that (`q:<updateId>`); everything else hashes the normalized event without its local receive time
 * (which differs between the live and the historical recorder).
 */
export function rowId(tick: Tick): string {
  return keyedRowId(tick) ?? hashedRowId(tick);
}

/** Whether the tick's id is derived from a key it carries (trade id, quote update id), not a hash. */
export function hasKeyedRowId(tick: Tick): boolean {
  if (tick.type === 'trade') return tick.id !== undefined && tick.id !== '';
  if (tick.type === 'book_ticker') return tick.updateId !== undefined && tick.updateId !== '';
  return false;
}

/**
 * The row id a v2 or v3 message carries for a tick: undefined when the id is keyed (the reader derives it
 * from the key in the tick, see `rowId`), else the content hash id, which travels with the tick.
 */
export function carriedRowId(tick: Tick): string | undefined {
  return hasKeyedRowId(tick) ? undefined : hashedRowId(tick);
}

function keyedRowId(tick: Tick): string | undefined {
  if (tick.type === 'trade') {
    if (tick.id !== undefined && tick.id !== '') return `${tick.exchange}:${tick.symbol}:t:${tick.id}`;
  } else if (tick.type === 'book_ticker') {
    if (tick.updateId !== undefined && tick.updateId !== '') {
      return `${tick.exchange}:${tick.symbol}:q:${tick.updateId}`;
    }
  }
  return undefined;
}

function hashedRowId(tick: Tick): string {
  return `${tick.exchange}:${tick.symbol}:${typeCode(tick.type)}:${contentHash(tick)}`;
}

function typeCode(type: Tick['type']): string {
  return type === 'trade' ? 'th' : type === 'book_ticker' ? 'q' : 'b';
}

function contentHash(tick: Tick): string {
  let canonical: string;
  switch (tick.type) {
    case 'trade':
      canonical = `${tick.ts}|${tick.price}|${tick.amount}|${tick.side}`;
      break;
    case 'book_ticker':
      canonical = `${tick.ts}|${tick.bidPrice}|${tick.bidAmount}|${tick.askPrice}|${tick.askAmount}`;
      break;
    case 'book_change':
      canonical = `${tick.ts}|${tick.isSnapshot ? 1 : 0}|${levels(tick.bids)}|${levels(tick.asks)}`;
      break;
  }
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

function levels(list: readonly { price: number; amount: number }[]): string {
  let out = '';
  for (const level of list) out += `${level.price}@${level.amount},`;
  return out;
}
