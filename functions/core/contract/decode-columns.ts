import { hasKeyedRowId, rowId } from '../model/row-id.ts';
import {
  isNumericUpdateId,
  type BookChangeTick,
  type DerivativeTickerTick,
  type LiquidationTick,
  type PriceLevel,
  type QuoteTick,
  type Tick,
  type TradeTick,
} from '../model/tick.ts';
import { LITTLE_ENDIAN, SCHEMA_VERSION } from './wire-layout.ts';
import { bad, Collector, envelopeOf, MessageDecodeError, type DecodedBatch } from './decoded-batch.ts';

const SIDE_OF: Readonly<Record<string, TradeTick['side']>> = { b: 'buy', s: 'sell', u: 'unknown' };

/** The header and bytes of one v2/v3 message, with where each decoded (or undecodable) tick goes. */
interface ColumnsInput {
  readonly header: Record<string, unknown>;
  readonly bytes: Buffer;
  readonly count: number;
  readonly exchange: string;
  readonly symbol: string;
  /** Assigns tick `i` its row id and hands it, or why it is undecodable, to the collector. */
  readonly finish: (i: number, tick: Tick, problem: string | undefined, row: unknown[]) => void;
}

/** Decodes a v2 or v3 message: the header's envelope and ids, then the type's float64 columns. */
export function decodeColumns(header: Record<string, unknown>, bytes: Buffer): DecodedBatch {
  const envelope = envelopeOf(header);
  const { exchange, symbol, type } = envelope.stream;
  if (header.v !== SCHEMA_VERSION && (type === 'derivative_ticker' || type === 'liquidation')) {
    // No v2 relay recorded these types: such a message is forged or corrupt, not an old relay's.
    throw new MessageDecodeError(`a v${String(header.v)} message cannot carry ${type}`, 'unknown_data_type');
  }
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
  const input: ColumnsInput = { header, bytes, count, exchange, symbol, finish };
  switch (type) {
    case 'trade':
    case 'liquidation':
      decodeTrades(input, type);
      break;
    case 'derivative_ticker':
      decodeDerivativeTickers(input);
      break;
    case 'book_ticker':
      decodeQuotes(input);
      break;
    case 'book_change':
      decodeBookChanges(input);
      break;
  }
  return out.result(envelope);
}

/** Trades and liquidations: ids and sides in the header; price, amount, ts, localTs columns. */
function decodeTrades(
  { header, bytes, count, exchange, symbol, finish }: ColumnsInput,
  type: 'trade' | 'liquidation',
): void {
  const { i: ids, d: sides } = header;
  if (!Array.isArray(ids) || ids.length !== count) throw bad(`i (${type} ids)`);
  if (typeof sides !== 'string' || sides.length !== count) throw bad('d (sides)');
  const f = columns(bytes, 4 * count);
  for (let i = 0; i < count; i++) {
    const tradeId: unknown = ids[i];
    const side = SIDE_OF[sides[i]!];
    const [price, amount, ts, localTs] = [f[i]!, f[count + i]!, f[2 * count + i]!, f[3 * count + i]!];
    const row = [null, tradeId, price, amount, side ?? sides[i], ts, localTs];
    const problem =
      tradeId !== null && typeof tradeId !== 'string'
        ? `${type} id is not a string`
        : side === undefined
          ? 'side is not b, s or u'
          : timestampProblem(ts, localTs);
    const tick: TradeTick | LiquidationTick = {
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
}

/** Quotes: bid/ask price and amount, ts, localTs columns; update ids in the header or a seventh column. */
function decodeQuotes({ header, bytes, count, exchange, symbol, finish }: ColumnsInput): void {
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
      type: 'book_ticker',
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
}

/** Derivative tickers: event keys in the header; the seven values (NaN = not known yet), ts, localTs. */
function decodeDerivativeTickers({ header, bytes, count, exchange, symbol, finish }: ColumnsInput): void {
  const { i: keys } = header;
  if (!Array.isArray(keys) || keys.length !== count) throw bad('i (event keys)');
  const f = columns(bytes, 9 * count);
  const value = (x: number) => (Number.isNaN(x) ? undefined : x);
  for (let i = 0; i < count; i++) {
    const eventKey: unknown = keys[i];
    const v = Array.from({ length: 7 }, (_, c) => value(f[c * count + i]!));
    const [ts, localTs] = [f[7 * count + i]!, f[8 * count + i]!];
    const row = [null, eventKey, ...v.map((x) => x ?? null), ts, localTs];
    const fundingTs = v[3];
    const problem =
      eventKey !== null && (typeof eventKey !== 'string' || eventKey === '')
        ? 'event key is not a non-empty string'
        : fundingTs !== undefined && !Number.isSafeInteger(fundingTs)
          ? 'funding timestamp is not an integer'
          : timestampProblem(ts, localTs);
    const tick: DerivativeTickerTick = {
      type: 'derivative_ticker',
      exchange,
      symbol,
      lastPrice: v[0],
      openInterest: v[1],
      fundingRate: v[2],
      fundingTs,
      predictedFundingRate: v[4],
      indexPrice: v[5],
      markPrice: v[6],
      ts,
      localTs,
      ...(typeof eventKey === 'string' && eventKey !== '' ? { eventKey } : {}),
    };
    finish(i, tick, problem, row);
  }
}

/** Book changes: snapshot flags and level counts in the header; ts, localTs, then the levels. */
function decodeBookChanges({ header, bytes, count, exchange, symbol, finish }: ColumnsInput): void {
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
      type: 'book_change',
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
