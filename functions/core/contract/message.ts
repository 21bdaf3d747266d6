import { hasKeyedRowId, rowId } from '../model/row-id.ts';
import { isDataType, type DataType, type StreamKey } from '../model/streams.ts';
import { LITTLE_ENDIAN, NEWLINE, SCHEMA_VERSION, TickColumns, type ColumnsHead } from './tick-columns.ts';
import {
  isNumericUpdateId,
  type BookChangeTick,
  type Micros,
  type PriceLevel,
  type QuoteTick,
  type Tick,
  type TradeTick,
} from '../model/tick.ts';

/**
 * Message contract v3 (docs/ARCHITECTURE.md): one Pub/Sub message carries one batch of one stream.
 * data = a one-line UTF-8 JSON header (routing fields, ids, sides), a newline, then the numbers as
 * little-endian float64 columns: copied, not formatted as decimal text, which cost the relay more than
 * parsing the frame did. Keyed row ids (trade id, quote update id) are derived by the reader, so only
 * content-hash ids travel. v3 is v2 plus one thing: quote update ids the exchange sent as numbers may
 * travel as one more column instead of header text. The writer still reads v2 and v1 (all-JSON,
 * positional arrays) from older relays. The attributes repeat the routing fields so subscribers can
 * filter without decoding.
 */
export { SCHEMA_VERSION };

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
  /**
   * The row id of each tick. To encode, an entry may be undefined: the encoder then uses `rowId(tick)`
   * where the message must carry one (keyed ids, which v2 does not carry, may be left unbuilt; see
   * `carriedRowId`).
   */
  readonly rowIds: readonly (string | undefined)[];
}

/** A batch as decoded: every tick's row id is known. */
export interface DecodedBatchBody extends Batch {
  readonly rowIds: readonly string[];
}

export interface EncodedMessage {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
}

export function batchId(relayId: string, stream: StreamKey, seq: number): string {
  return `${relayId}/${stream.exchange}:${stream.symbol}:${stream.type}/${seq}`;
}

const SIDE_OF: Readonly<Record<string, TradeTick['side']>> = { b: 'buy', s: 'sell', u: 'unknown' };

/** A batch as the relay publishes it: encoded once when cut, with what the relay accounts for it. */
export interface SealedBatch {
  readonly stream: StreamKey;
  readonly seq: number;
  readonly window: Window;
  /** Ticks in the batch. */
  readonly count: number;
  readonly message: EncodedMessage;
}

/** Encodes the first `count` ticks held in `columns` as a v3 message (see the module comment). */
export function encodeColumns(head: ColumnsHead, columns: TickColumns, count: number): EncodedMessage {
  return { data: columns.encode(head, count), attributes: attributesOf(head, count, SCHEMA_VERSION) };
}

/** Encodes a batch as a v3 message, as the relay would have (see `encodeColumns`). */
export function encodeBatch(batch: Batch): EncodedMessage {
  const { ticks, rowIds } = batch;
  const columns = new TickColumns(batch.stream.type, ticks.length);
  for (let i = 0; i < ticks.length; i++) {
    const tick = ticks[i]!;
    columns.push(tick, hasKeyedRowId(tick) ? undefined : (rowIds[i] ?? rowId(tick)));
  }
  return encodeColumns(batch, columns, ticks.length);
}

function attributesOf(head: ColumnsHead, count: number, version: number): Record<string, string> {
  const { stream, window } = head;
  return {
    schema: String(version),
    exchange: stream.exchange,
    symbol: stream.symbol,
    type: stream.type,
    relay: head.relayId,
    seq: String(head.seq),
    batch: batchId(head.relayId, stream, head.seq),
    wfrom: String(window.from),
    wto: String(window.to),
    count: String(count),
  };
}

type TradeRow = [string, string | null, number, number, string, Micros, Micros];
type QuoteRow = [string, number | null, number | null, number | null, number | null, Micros, Micros, string?];
type LevelRow = [number, number];
type BookRow = [string, 0 | 1, LevelRow[], LevelRow[], Micros, Micros];

/**
 * Encodes a batch in the v1 format (JSON, positional arrays, every row id). Relays publish v2; this
 * stays for tests of the writer's v1 reading, which old relays need during a rolling deploy.
 */
export function encodeBatchV1(batch: Batch): EncodedMessage {
  const { stream, window, ticks, rowIds } = batch;
  const rows: unknown[] = new Array(ticks.length);
  for (let i = 0; i < ticks.length; i++) rows[i] = encodeTick(ticks[i]!, rowIds[i] ?? rowId(ticks[i]!));
  const body = {
    v: 1,
    e: stream.exchange,
    s: stream.symbol,
    k: stream.type,
    r: batch.relayId,
    q: batch.seq,
    w: [window.from, window.to],
    t: rows,
  };
  return { data: Buffer.from(JSON.stringify(body)), attributes: attributesOf(batch, ticks.length, 1) };
}

function encodeTick(tick: Tick, id: string): TradeRow | QuoteRow | BookRow {
  switch (tick.type) {
    case 'trade':
      return [id, tick.id ?? null, tick.price, tick.amount, tick.side, tick.ts, tick.localTs];
    case 'book_ticker': {
      const row: QuoteRow = [
        id,
        tick.bidPrice ?? null,
        tick.bidAmount ?? null,
        tick.askPrice ?? null,
        tick.askAmount ?? null,
        tick.ts,
        tick.localTs,
      ];
      // The update id is an optional 8th element (text): readers of the 7-element form are unaffected.
      if (tick.updateId !== undefined) row.push(String(tick.updateId));
      return row;
    }
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
  readonly batch: DecodedBatchBody;
  readonly undecodable: readonly UndecodableTick[];
  /** Each decoded tick as a v1 positional array, row id first (same order as `batch.ticks`). */
  readonly raw: readonly unknown[];
}

/** Decodes a v3 message, or a v2 or v1 message from a relay of an earlier version. */
export function decodeBatch(data: Buffer): DecodedBatch {
  // A v2/v3 header ends at the first newline (JSON.stringify writes none); v1 is JSON throughout.
  const newline = data.indexOf(NEWLINE);
  if (newline >= 0) {
    const header = parseJson(data.subarray(0, newline));
    if (isRecord(header) && isColumnar(header.v)) return decodeColumns(header, data.subarray(newline + 1));
  }
  let body: unknown;
  try {
    body = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new MessageDecodeError('message data is not JSON', 'not_json', { cause: error });
  }
  if (!isRecord(body)) throw new MessageDecodeError('message data is not a JSON object', 'not_object');
  if (body.v === 1) return decodeV1(body);
  // A columnar header without its newline can only be an empty batch; decodeColumns checks that.
  if (isColumnar(body.v)) return decodeColumns(body, Buffer.alloc(0));
  throw new MessageDecodeError(`unknown schema version ${JSON.stringify(body.v)}`, 'unknown_schema_version');
}

/** v2 and v3 are one layout: a JSON header line, then float64 columns. */
function isColumnar(version: unknown): version is 2 | 3 {
  return version === 2 || version === SCHEMA_VERSION;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

interface Envelope {
  readonly stream: StreamKey;
  readonly relayId: string;
  readonly seq: number;
  readonly window: Window;
}

/** The routing fields v1 and v2 share. */
function envelopeOf(body: Record<string, unknown>): Envelope {
  const { e: exchange, s: symbol, k: type, r: relayId, q: seq, w } = body;
  if (typeof exchange !== 'string' || exchange === '') throw bad('e (exchange)');
  if (typeof symbol !== 'string' || symbol === '') throw bad('s (symbol)');
  if (!isDataType(type)) throw bad('k (data type)');
  if (typeof relayId !== 'string' || relayId === '') throw bad('r (relay id)');
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw bad('q (sequence)');
  if (!Array.isArray(w) || w.length !== 2 || !w.every(Number.isSafeInteger) || w[0] > w[1]) {
    throw bad('w (window)');
  }
  return {
    stream: { exchange, symbol, type },
    relayId,
    seq: seq as number,
    window: { from: w[0], to: w[1] },
  };
}

/** Collects decoded ticks and the undecodable ones, by index in the message. */
class Collector {
  readonly ticks: Tick[] = [];
  readonly rowIds: string[] = [];
  readonly raw: unknown[] = [];
  readonly undecodable: UndecodableTick[] = [];

  add(index: number, raw: unknown, decoded: { tick: Tick; id: string } | string): void {
    if (typeof decoded === 'string') {
      this.undecodable.push({ index, raw, reason: decoded });
    } else {
      this.ticks.push(decoded.tick);
      this.rowIds.push(decoded.id);
      this.raw.push(raw);
    }
  }

  result(envelope: Envelope): DecodedBatch {
    const { ticks, rowIds, undecodable, raw } = this;
    return { batch: { ...envelope, ticks, rowIds }, undecodable, raw };
  }
}

function decodeV1(body: Record<string, unknown>): DecodedBatch {
  const envelope = envelopeOf(body);
  const { t } = body;
  if (!Array.isArray(t)) throw bad('t (ticks)');
  const out = new Collector();
  t.forEach((raw: unknown, index: number) => {
    out.add(index, raw, decodeTick(envelope.stream, envelope.stream.type, raw));
  });
  return out.result(envelope);
}

function decodeColumns(header: Record<string, unknown>, bytes: Buffer): DecodedBatch {
  const envelope = envelopeOf(header);
  const { exchange, symbol, type } = envelope.stream;
  const n = header.n;
  if (!Number.isSafeInteger(n) || (n as number) < 0) throw bad('n (tick count)');
  const count = n as number;
  const hashed = header.h;
  if (hashed !== undefined && !(Array.isArray(hashed) && hashed.length === count)) throw bad('h (row ids)');
  const out = new Collector();
  // The row id: carried (content hash), or derived from the key in the tick.
  const idOf = (tick: Tick, i: number): string | { error: string } => {
    const carried: unknown = hashed === undefined ? null : (hashed as unknown[])[i];
    if (carried === null) return hasKeyedRowId(tick) ? rowId(tick) : { error: 'row id missing' };
    return typeof carried === 'string' && carried !== ''
      ? carried
      : { error: 'row id is not a non-empty string' };
  };
  const finish = (i: number, tick: Tick, problem: string | undefined, row: unknown[]) => {
    const id = problem === undefined ? idOf(tick, i) : { error: problem };
    row[0] = typeof id === 'string' ? id : null;
    out.add(i, row, typeof id === 'string' ? { tick, id } : id.error);
  };
  switch (type) {
    case 'trade': {
      const { i: ids, d: sides } = header;
      if (!Array.isArray(ids) || ids.length !== count) throw bad('i (trade ids)');
      if (typeof sides !== 'string' || sides.length !== count) throw bad('d (sides)');
      const f = columns(bytes, 4 * count);
      for (let i = 0; i < count; i++) {
        const tradeId: unknown = ids[i];
        const side = SIDE_OF[sides[i]!];
        const [price, amount, ts, localTs] = [f[i]!, f[count + i]!, f[2 * count + i]!, f[3 * count + i]!];
        const row = [null, tradeId, price, amount, side ?? sides[i], ts, localTs];
        const problem =
          tradeId !== null && typeof tradeId !== 'string'
            ? 'trade id is not a string'
            : side === undefined
              ? 'side is not b, s or u'
              : timestampProblem(ts, localTs);
        const tick: TradeTick = {
          type,
          exchange,
          symbol,
          id: (tradeId as string | null) ?? undefined,
          price,
          amount,
          side: side!,
          ts,
          localTs,
        };
        finish(i, tick, problem, row);
      }
      break;
    }
    case 'book_ticker': {
      // The update ids: header text (v2, and v3 when one is text), or v3's key column after the six fields.
      const { u: ids } = header;
      const keyColumn = header.v === SCHEMA_VERSION && ids === undefined;
      if (!keyColumn && !(Array.isArray(ids) && ids.length === count)) throw bad('u (update ids)');
      const f = columns(bytes, (keyColumn ? 7 : 6) * count);
      // NaN marks an absent value (an empty side, or no update id), as null does in v1.
      const value = (x: number) => (Number.isNaN(x) ? undefined : x);
      for (let i = 0; i < count; i++) {
        const updateId: unknown = keyColumn ? (value(f[6 * count + i]!) ?? null) : (ids as unknown[])[i];
        const [ts, localTs] = [f[4 * count + i]!, f[5 * count + i]!];
        const values = [f[i]!, f[count + i]!, f[2 * count + i]!, f[3 * count + i]!].map(value);
        const row = [null, ...values.map((x) => x ?? null), ts, localTs, updateId];
        const problem = updateIdProblem(updateId, keyColumn) ?? timestampProblem(ts, localTs);
        const tick: QuoteTick = {
          type,
          exchange,
          symbol,
          bidPrice: values[0],
          bidAmount: values[1],
          askPrice: values[2],
          askAmount: values[3],
          ts,
          localTs,
          ...(typeof updateId === 'string' || typeof updateId === 'number' ? { updateId } : {}),
        };
        finish(i, tick, problem, row);
      }
      break;
    }
    case 'book_change': {
      const { p: snapshots, b: bidCounts, a: askCounts } = header;
      if (typeof snapshots !== 'string' || snapshots.length !== count) throw bad('p (snapshot flags)');
      const isCounts = (x: unknown): x is number[] =>
        Array.isArray(x) && x.length === count && x.every((c) => Number.isSafeInteger(c) && c >= 0);
      if (!isCounts(bidCounts)) throw bad('b (bid level counts)');
      if (!isCounts(askCounts)) throw bad('a (ask level counts)');
      let levels = 0;
      for (let i = 0; i < count; i++) levels += bidCounts[i]! + askCounts[i]!;
      const f = columns(bytes, 2 * count + 2 * levels);
      let at = 2 * count;
      const take = (k: number): PriceLevel[] => {
        const list: PriceLevel[] = [];
        for (let j = 0; j < k; j++, at += 2) list.push({ price: f[at]!, amount: f[at + 1]! });
        return list;
      };
      for (let i = 0; i < count; i++) {
        const [ts, localTs] = [f[i]!, f[count + i]!];
        const bids = take(bidCounts[i]!);
        const asks = take(askCounts[i]!);
        const flag = snapshots[i];
        const pairs = (list: PriceLevel[]) => list.map((l) => [l.price, l.amount]);
        const row = [null, flag === '1' ? 1 : flag === '0' ? 0 : flag, pairs(bids), pairs(asks), ts, localTs];
        const problem =
          flag !== '0' && flag !== '1' ? 'snapshot flag is not 0 or 1' : timestampProblem(ts, localTs);
        const tick: BookChangeTick = {
          type,
          exchange,
          symbol,
          isSnapshot: flag === '1',
          bids,
          asks,
          ts,
          localTs,
        };
        finish(i, tick, problem, row);
      }
      break;
    }
  }
  return out.result(envelope);
}

/** The float64 columns after the header: exactly `values` of them, copied to an aligned array. */
function columns(bytes: Buffer, values: number): Float64Array {
  if (bytes.length !== values * 8) throw bad('columns (length does not match the header)');
  const out = new Float64Array(values);
  const view = Buffer.from(out.buffer);
  bytes.copy(view);
  if (!LITTLE_ENDIAN) view.swap64();
  return out;
}

/** What is wrong with a quote's update id: a key column holds integers, header text must be non-empty. */
function updateIdProblem(updateId: unknown, fromColumn: boolean): string | undefined {
  if (updateId === null) return undefined;
  if (fromColumn) {
    return isNumericUpdateId(updateId) ? undefined : 'quote update id is not a non-negative integer';
  }
  return typeof updateId === 'string' && updateId !== ''
    ? undefined
    : 'quote update id is not a non-empty string';
}

function timestampProblem(ts: number, localTs: number): string | undefined {
  return Number.isSafeInteger(ts) && Number.isSafeInteger(localTs)
    ? undefined
    : 'timestamp is not an integer';
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
