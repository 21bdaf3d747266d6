import { isDataType, type DataType, type StreamKey } from './streams.ts';
import type { BookChangeTick, Micros, PriceLevel, QuoteTick, Tick, TradeTick } from './tick.ts';

/**
 * Message contract v1: one Pub/Sub message carries one batch of one stream.
 * data = UTF-8 JSON {v, e, s, k, r, q, w, t}; ticks are positional arrays to keep messages small.
 * The attributes repeat the routing fields so subscribers can filter without decoding.
 */
export const SCHEMA_VERSION = 1;

/** A half-open interval [from, to) of relay wall-clock milliseconds during which the stream was listened to. */
export interface Window {
  readonly from: number;
  readonly to: number;
}

export interface Batch {
  readonly stream: StreamKey;
  readonly relayId: string;
  readonly seq: number;
  /** The coverage this batch proves: every tick received for the stream during the window is in it. */
  readonly window: Window;
  readonly ticks: readonly Tick[];
  readonly rowIds: readonly string[];
}

export interface EncodedMessage {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
}

export function batchId(relayId: string, stream: StreamKey, seq: number): string {
  return `${relayId}/${stream.exchange}:${stream.symbol}:${stream.type}/${seq}`;
}

type TradeRow = [string, string | null, number, number, string, Micros, Micros];
type QuoteRow =
  | [string, number | null, number | null, number | null, number | null, Micros, Micros]
  | [string, number | null, number | null, number | null, number | null, Micros, Micros, string];
type LevelRow = [number, number];
type BookRow = [string, 0 | 1, LevelRow[], LevelRow[], Micros, Micros];

/**
 * Encodes a batch as v1 JSON. (Measured: JSON.stringify over positional arrays is faster than building
 * the text by hand, whose many small string pieces cost more to flatten than V8's serializer spends.)
 */
export function encodeBatch(batch: Batch): EncodedMessage {
  const { stream, window, ticks, rowIds } = batch;
  const rows: unknown[] = new Array(ticks.length);
  for (let i = 0; i < ticks.length; i++) rows[i] = encodeTick(ticks[i]!, rowIds[i]!);
  const body = {
    v: SCHEMA_VERSION,
    e: stream.exchange,
    s: stream.symbol,
    k: stream.type,
    r: batch.relayId,
    q: batch.seq,
    w: [window.from, window.to],
    t: rows,
  };
  return {
    data: Buffer.from(JSON.stringify(body)),
    attributes: {
      schema: String(SCHEMA_VERSION),
      exchange: stream.exchange,
      symbol: stream.symbol,
      type: stream.type,
      relay: batch.relayId,
      seq: String(batch.seq),
      batch: batchId(batch.relayId, stream, batch.seq),
      wfrom: String(window.from),
      wto: String(window.to),
      count: String(ticks.length),
    },
  };
}

function encodeTick(tick: Tick, id: string): TradeRow | QuoteRow | BookRow {
  switch (tick.type) {
    case 'trade':
      return [id, tick.id ?? null, tick.price, tick.amount, tick.side, tick.ts, tick.localTs];
    case 'book_ticker':
      // The update id is an optional 8th element: readers of the 7-element form are unaffected.
      return tick.updateId === undefined
        ? [
            id,
            tick.bidPrice ?? null,
            tick.bidAmount ?? null,
            tick.askPrice ?? null,
            tick.askAmount ?? null,
            tick.ts,
            tick.localTs,
          ]
        : [
            id,
            tick.bidPrice ?? null,
            tick.bidAmount ?? null,
            tick.askPrice ?? null,
            tick.askAmount ?? null,
            tick.ts,
            tick.localTs,
            tick.updateId,
          ];
    case 'book_change':
      return [
        id,
        tick.isSnapshot ? 1 : 0,
        tick.bids.map((l) => [l.price, l.amount]),
        tick.asks.map((l) => [l.price, l.amount]),
        tick.ts,
        tick.localTs,
      ];
  }
}

/** The whole message cannot be understood: it goes to quarantine verbatim and is acknowledged. */
export class MessageDecodeError extends Error {
  override readonly name = 'MessageDecodeError';
  constructor(
    message: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One tick of an otherwise readable batch that cannot be decoded. */
export interface UndecodableTick {
  readonly index: number;
  readonly raw: unknown;
  readonly reason: string;
}

export interface DecodedBatch {
  readonly batch: Batch;
  readonly undecodable: readonly UndecodableTick[];
  /** The positional array each decoded tick came from (same order as `batch.ticks`). */
  readonly raw: readonly unknown[];
}

export function decodeBatch(data: Buffer): DecodedBatch {
  let body: unknown;
  try {
    body = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new MessageDecodeError('message data is not JSON', 'not_json', { cause: error });
  }
  if (!isRecord(body)) throw new MessageDecodeError('message data is not a JSON object', 'not_object');
  if (body.v !== SCHEMA_VERSION) {
    throw new MessageDecodeError(
      `unknown schema version ${JSON.stringify(body.v)}`,
      'unknown_schema_version',
    );
  }
  const { e: exchange, s: symbol, k: type, r: relayId, q: seq, w, t } = body;
  if (typeof exchange !== 'string' || exchange === '') throw bad('e (exchange)');
  if (typeof symbol !== 'string' || symbol === '') throw bad('s (symbol)');
  if (!isDataType(type)) throw bad('k (data type)');
  if (typeof relayId !== 'string' || relayId === '') throw bad('r (relay id)');
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw bad('q (sequence)');
  if (!Array.isArray(w) || w.length !== 2 || !w.every(Number.isSafeInteger) || w[0] > w[1]) {
    throw bad('w (window)');
  }
  if (!Array.isArray(t)) throw bad('t (ticks)');

  const stream: StreamKey = { exchange, symbol, type };
  const ticks: Tick[] = [];
  const rowIds: string[] = [];
  const undecodable: UndecodableTick[] = [];
  const decodedRaw: unknown[] = [];
  t.forEach((raw: unknown, index: number) => {
    const decoded = decodeTick(stream, type, raw);
    if (typeof decoded === 'string') undecodable.push({ index, raw, reason: decoded });
    else {
      ticks.push(decoded.tick);
      rowIds.push(decoded.id);
      decodedRaw.push(raw);
    }
  });
  return {
    batch: { stream, relayId, seq: seq as number, window: { from: w[0], to: w[1] }, ticks, rowIds },
    undecodable,
    raw: decodedRaw,
  };
}

function bad(field: string): MessageDecodeError {
  return new MessageDecodeError(`message field ${field} is missing or invalid`, 'invalid_envelope_field');
}

function decodeTick(stream: StreamKey, type: DataType, raw: unknown): { tick: Tick; id: string } | string {
  if (!Array.isArray(raw)) return 'tick is not an array';
  const { exchange, symbol } = stream;
  const [id] = raw;
  if (typeof id !== 'string' || id === '') return 'row id missing';
  switch (type) {
    case 'trade': {
      if (raw.length !== 7) return 'trade tick must have 7 fields';
      const [, tradeId, price, amount, side, ts, localTs] = raw;
      if (tradeId !== null && typeof tradeId !== 'string') return 'trade id is not a string';
      if (typeof price !== 'number' || typeof amount !== 'number') return 'price or amount is not a number';
      if (side !== 'buy' && side !== 'sell' && side !== 'unknown') return 'side is not buy, sell or unknown';
      if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(localTs)) return 'timestamp is not an integer';
      const tick: TradeTick = {
        type,
        exchange,
        symbol,
        id: tradeId ?? undefined,
        price,
        amount,
        side,
        ts,
        localTs,
      };
      return { tick, id };
    }
    case 'book_ticker': {
      if (raw.length !== 7 && raw.length !== 8) return 'quote tick must have 7 or 8 fields';
      const [, bidPrice, bidAmount, askPrice, askAmount, ts, localTs, updateId] = raw;
      for (const v of [bidPrice, bidAmount, askPrice, askAmount]) {
        if (v !== null && typeof v !== 'number') return 'quote price or amount is not a number';
      }
      if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(localTs)) return 'timestamp is not an integer';
      if (updateId !== undefined && updateId !== null && (typeof updateId !== 'string' || updateId === '')) {
        return 'quote update id is not a non-empty string';
      }
      const tick: QuoteTick = {
        type,
        exchange,
        symbol,
        bidPrice: bidPrice ?? undefined,
        bidAmount: bidAmount ?? undefined,
        askPrice: askPrice ?? undefined,
        askAmount: askAmount ?? undefined,
        ts,
        localTs,
        ...(typeof updateId === 'string' ? { updateId } : {}),
      };
      return { tick, id };
    }
    case 'book_change': {
      if (raw.length !== 6) return 'book change tick must have 6 fields';
      const [, snapshot, bids, asks, ts, localTs] = raw;
      if (snapshot !== 0 && snapshot !== 1) return 'snapshot flag is not 0 or 1';
      const bidLevels = decodeLevels(bids);
      const askLevels = decodeLevels(asks);
      if (!bidLevels || !askLevels) return 'price levels are not [price, amount] pairs';
      if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(localTs)) return 'timestamp is not an integer';
      const tick: BookChangeTick = {
        type,
        exchange,
        symbol,
        isSnapshot: snapshot === 1,
        bids: bidLevels,
        asks: askLevels,
        ts,
        localTs,
      };
      return { tick, id };
    }
  }
}

function decodeLevels(raw: unknown): PriceLevel[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: PriceLevel[] = [];
  for (const level of raw) {
    if (!Array.isArray(level) || level.length !== 2) return undefined;
    const [price, amount] = level;
    if (typeof price !== 'number' || typeof amount !== 'number') return undefined;
    out.push({ price, amount });
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
