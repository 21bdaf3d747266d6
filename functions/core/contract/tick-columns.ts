import {
  isNumericUpdateId,
  type BookChangeTick,
  type DerivativeTickerTick,
  type LiquidationTick,
  type QuoteTick,
  type Tick,
  type TradeTick,
} from '../model/tick.ts';
import type { DataType } from '../model/streams.ts';
import { BufferSlab } from './buffer-slab.ts';
import { writeTicker } from './ticker-columns.ts';
import {
  CHAR_0,
  CHAR_1,
  FIELDS,
  LEVEL_BYTES,
  LITTLE_ENDIAN,
  NEWLINE,
  QUOTE_KEY_COLUMN,
  SCHEMA_VERSION,
  sideCode,
  TICK_BYTES,
  type ColumnsHead,
} from './wire-layout.ts';

/**
 * One stream's ticks held for a message (v3, see encode.ts): the numeric fields as float64s, the exchange
 * keys (trade or liquidation id, quote update id as text, ticker event key) and one-character codes (side,
 * snapshot flag) beside, and the carried content-hash row ids when a tick has no key.
 *
 * The relay appends each tick as it arrives and keeps nothing of the tick object (a buffered tick costs
 * its 32-56 bytes of floats, not an object graph held for up to 100 ms). The floats are stored tick after
 * tick, so one push writes one or two cache lines instead of one per field (see docs/PERFORMANCE.md);
 * a cut lays the prefix it claims out as the message's columns. The storage is reused from batch to
 * batch and only grows.
 */
export class TickColumns {
  /** Ticks held. */
  length = 0;
  private capacity: number;
  /** The float64 fields of each tick in wire order, `stride` per tick, tick after tick. */
  private rows: Float64Array;
  private readonly stride: number;
  /** TICK_BYTES of this type, read per tick, so kept in a field (see docs/PERFORMANCE.md). */
  private readonly tickBytes: number;
  /** Where a cut lays the rows out as columns (aligned, unlike the message after its header). */
  private scratch: Float64Array;
  /** Side (trade) or snapshot flag (book change) of each tick, as a character code. */
  private codes: Buffer;
  /**
   * Trade id or quote update id of each tick as text (null when the exchange gave none, or, for a quote,
   * when its update id is a number: that one is in the key column). Like the columns it only grows:
   * entries past `length` are stale and are overwritten before they are read.
   */
  private readonly keys: (string | null)[] = [];
  /** Quotes held whose update id is text, not a number: while there is one, ids travel in the header. */
  private textKeys = 0;
  /** Carried row id of each tick (null where the id is keyed); undefined while every tick is keyed. */
  private hashed: (string | null)[] | undefined;
  /** Book changes: price levels as (price, amount) pairs, all ticks' in order, and counts per tick. */
  private levels = new Float64Array(0);
  private levelValues = 0;
  private bidCounts: number[] = [];
  private askCounts: number[] = [];

  constructor(
    readonly type: DataType,
    initialCapacity = 64,
  ) {
    this.capacity = Math.max(1, initialCapacity);
    this.stride = FIELDS[type];
    this.tickBytes = TICK_BYTES[type];
    this.rows = new Float64Array(this.stride * this.capacity);
    this.scratch = new Float64Array(this.stride * this.capacity);
    this.codes = Buffer.alloc(this.capacity);
  }

  /** Approximate encoded size of the ticks held (a v1-sized upper bound of v3's). */
  get approxBytes(): number {
    return this.tickBytes * this.length + (LEVEL_BYTES / 2) * this.levelValues;
  }

  /**
   * Appends a tick of this stream's type. `carriedRowId` is the row id the message must carry: undefined
   * when the id is keyed (the reader derives it, see `carriedRowId` in row-id.ts).
   */
  push(tick: Tick, carriedRowId: string | undefined): void {
    const i = this.length;
    if (i === this.capacity) this.grow(2 * this.capacity);
    const f = this.rows;
    const r = i * this.stride;
    switch (this.type) {
      case 'trade':
      case 'liquidation': {
        // A liquidation has a trade's shape: exchange id, side, price, amount.
        const t = tick as TradeTick | LiquidationTick;
        f[r] = t.price;
        f[r + 1] = t.amount;
        f[r + 2] = t.ts;
        f[r + 3] = t.localTs;
        this.keys[i] = t.id ?? null;
        this.codes[i] = sideCode(t.side);
        break;
      }
      case 'book_ticker': {
        // NaN marks an absent value (an empty side), as null does in v1.
        const q = tick as QuoteTick;
        f[r] = q.bidPrice ?? Number.NaN;
        f[r + 1] = q.bidAmount ?? Number.NaN;
        f[r + 2] = q.askPrice ?? Number.NaN;
        f[r + 3] = q.askAmount ?? Number.NaN;
        f[r + 4] = q.ts;
        f[r + 5] = q.localTs;
        const id = q.updateId;
        if (isNumericUpdateId(id)) {
          f[r + QUOTE_KEY_COLUMN] = id;
          this.keys[i] = null;
        } else {
          f[r + QUOTE_KEY_COLUMN] = Number.NaN;
          this.keys[i] = id === undefined ? null : String(id);
          if (id !== undefined) this.textKeys++;
        }
        break;
      }
      case 'book_change': {
        const b = tick as BookChangeTick;
        f[r] = b.ts;
        f[r + 1] = b.localTs;
        const needed = this.levelValues + 2 * (b.bids.length + b.asks.length);
        if (needed > this.levels.length)
          this.levels = grown(this.levels, Math.max(needed, 2 * this.levels.length));
        let at = this.levelValues;
        for (const level of b.bids) {
          this.levels[at++] = level.price;
          this.levels[at++] = level.amount;
        }
        for (const level of b.asks) {
          this.levels[at++] = level.price;
          this.levels[at++] = level.amount;
        }
        this.levelValues = at;
        this.bidCounts.push(b.bids.length);
        this.askCounts.push(b.asks.length);
        this.codes[i] = b.isSnapshot ? CHAR_1 : CHAR_0;
        break;
      }
      case 'derivative_ticker':
        this.keys[i] = writeTicker(f, r, tick as DerivativeTickerTick);
        break;
    }
    if (carriedRowId !== undefined) {
      this.hashed ??= new Array<string | null>(i).fill(null);
      this.hashed.push(carriedRowId);
    } else if (this.hashed !== undefined) {
      this.hashed.push(null);
    }
    this.length = i + 1;
  }

  /** The message data (header line, then the columns) of the first `count` ticks, see encode.ts. */
  encode(head: ColumnsHead, count: number): Buffer {
    const n = count;
    const { stream, window } = head;
    const header: Record<string, unknown> = {
      v: SCHEMA_VERSION,
      e: stream.exchange,
      s: stream.symbol,
      k: stream.type,
      r: head.relayId,
      q: head.seq,
      w: [window.from, window.to],
      n,
    };
    if (head.shard !== undefined) header.sh = head.shard;
    if (head.epoch !== undefined) header.ep = head.epoch;
    let levelValues = 0;
    let columns = this.stride;
    switch (this.type) {
      case 'trade':
      case 'liquidation':
        header.i = this.keys.slice(0, n);
        header.d = this.codes.toString('latin1', 0, n);
        break;
      case 'derivative_ticker':
        header.i = this.keys.slice(0, n);
        break;
      case 'book_ticker':
        // Numeric update ids travel as one more float64 column, copied like the prices, not formatted as
        // text (see docs/PERFORMANCE.md). A text id anywhere in the batch sends them all as text.
        if (this.textKeys > 0) {
          columns--; // the key column, the last
          header.u = this.quoteKeysAsText(n);
        }
        break;
      case 'book_change':
        header.p = this.codes.toString('latin1', 0, n);
        header.b = prefixOf(this.bidCounts, n);
        header.a = prefixOf(this.askCounts, n);
        levelValues = this.levelValuesOf(n);
        break;
    }
    // Only content-hash ids travel; keyed ids are the reader's to derive.
    if (this.hashed !== undefined) {
      const hashed = prefixOf(this.hashed, n);
      if (hashed.some((id) => id !== null)) header.h = hashed;
    }
    const text = JSON.stringify(header);
    const textBytes = Buffer.byteLength(text);
    const start = textBytes + 1;
    const data = messageBuffers.take(start + 8 * (columns * n + levelValues));
    data.write(text, 0, 'utf8');
    data[textBytes] = NEWLINE;
    const { rows, scratch, stride } = this;
    for (let c = 0; c < columns; c++) {
      for (let i = 0, from = c, to = c * n; i < n; i++, from += stride, to++) scratch[to] = rows[from]!;
    }
    data.set(new Uint8Array(scratch.buffer, 0, 8 * columns * n), start);
    const at = start + 8 * columns * n;
    if (levelValues > 0) data.set(new Uint8Array(this.levels.buffer, 0, 8 * levelValues), at);
    if (!LITTLE_ENDIAN) data.subarray(start).swap64();
    return data;
  }

  /** The first `count` quotes' update ids as text (null where a quote has none). */
  private quoteKeysAsText(count: number): (string | null)[] {
    const out = this.keys.slice(0, count);
    for (let i = 0; i < count; i++) {
      const id = this.rows[i * this.stride + QUOTE_KEY_COLUMN]!;
      if (out[i] === null && !Number.isNaN(id)) out[i] = String(id);
    }
    return out;
  }

  /** Forgets the first `count` ticks; the rest move to the front. */
  drop(count: number): void {
    if (count >= this.length) {
      this.length = 0;
      this.textKeys = 0;
      this.hashed = undefined;
      this.levelValues = 0;
      this.bidCounts = [];
      this.askCounts = [];
      return;
    }
    this.rows.copyWithin(0, count * this.stride, this.length * this.stride);
    this.codes.copyWithin(0, count, this.length);
    this.keys.copyWithin(0, count, this.length);
    if (this.textKeys > 0) this.textKeys = this.countTextKeys(this.length - count);
    this.hashed = this.hashed?.slice(count);
    if (this.type === 'book_change') {
      const dropped = this.levelValuesOf(count);
      this.levels.copyWithin(0, dropped, this.levelValues);
      this.levelValues -= dropped;
      this.bidCounts = this.bidCounts.slice(count);
      this.askCounts = this.askCounts.slice(count);
    }
    this.length -= count;
  }

  /** Quotes among the first `count` whose update id is text (called for quotes only: keys of a quote). */
  private countTextKeys(count: number): number {
    let text = 0;
    for (let i = 0; i < count; i++) if (this.keys[i] !== null) text++;
    return text;
  }

  /** float64 values the price levels of the first `count` book changes take. */
  private levelValuesOf(count: number): number {
    if (count === this.length) return this.levelValues;
    let levels = 0;
    for (let i = 0; i < count; i++) levels += this.bidCounts[i]! + this.askCounts[i]!;
    return 2 * levels;
  }

  private grow(capacity: number): void {
    this.rows = grown(this.rows, capacity * this.stride);
    this.scratch = new Float64Array(capacity * this.stride);
    const codes = Buffer.alloc(capacity);
    this.codes.copy(codes);
    this.codes = codes;
    this.capacity = capacity;
  }
}

/** Where encoded messages are cut from (one per process: messages are encoded on one thread). */
const messageBuffers = new BufferSlab();

/** The first `count` entries of a list: the list itself when that is all of it. */
function prefixOf<T>(list: T[], count: number): T[] {
  return count === list.length ? list : list.slice(0, count);
}

function grown(values: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(capacity);
  out.set(values);
  return out;
}
