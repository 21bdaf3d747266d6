import { rowId } from '../model/row-id.ts';
import type { DataType, StreamKey } from '../model/streams.ts';
import type { BookChangeTick, Micros, PriceLevel, QuoteTick, Tick, TradeTick } from '../model/tick.ts';
import { attributesOf, type Batch, type EncodedMessage } from './batch.ts';
import { bad, Collector, envelopeOf, MessageDecodeError, type DecodedBatch } from './decoded-batch.ts';

type TradeRow = [string, string | null, number, number, string, Micros, Micros];
type QuoteRow = [string, number | null, number | null, number | null, number | null, Micros, Micros, string?];
type LevelRow = [number, number];
type BookRow = [string, 0 | 1, LevelRow[], LevelRow[], Micros, Micros];

/**
 * Encodes a batch in the v1 format (JSON, positional arrays, every row id). Relays publish v3; this
 * stays for tests of the writer's v1 reading, which old relays need during a rolling deploy.
 */
export function encodeBatchV1(batch: Batch): EncodedMessage {
  const { stream, window, ticks, rowIds } = batch;
  if (!isV1Type(stream.type)) throw new Error(`message v1 has no layout for ${stream.type}`);
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

function encodeTick(tick: Tick, id: string): TradeRow | QuoteRow | BookRow | undefined {
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
    default:
      return undefined; // no v1 layout (refused by encodeBatchV1)
  }
}

/** v1 predates derivative tickers and liquidations; only these three types have a v1 layout. */
function isV1Type(type: DataType): type is 'trade' | 'book_ticker' | 'book_change' {
  return type === 'trade' || type === 'book_ticker' || type === 'book_change';
}

export function decodeV1(body: Record<string, unknown>): DecodedBatch {
  const envelope = envelopeOf(body);
  const type = envelope.stream.type;
  if (!isV1Type(type)) {
    // No v1 relay recorded this type: the message is forged or corrupt, not an old relay's.
    throw new MessageDecodeError(`a v1 message cannot carry ${type}`, 'unknown_data_type');
  }
  const { t } = body;
  if (!Array.isArray(t)) throw bad('t (ticks)');
  const out = new Collector();
  t.forEach((raw: unknown, index: number) => {
    out.add(index, raw, decodeTick(envelope.stream, type, raw));
  });
  return out.result(envelope);
}

function decodeTick(
  stream: StreamKey,
  type: 'trade' | 'book_ticker' | 'book_change',
  raw: unknown,
): { tick: Tick; id: string } | string {
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
