import type { DataType, StreamKey } from '../model/streams.ts';

// The v3 message's layout constants, shared by the writer side (TickColumns) and the reader (decode-columns).

/** What a message header says about its batch besides the ticks (see encode.ts). */
export interface ColumnsHead {
  readonly stream: StreamKey;
  readonly relayId: string;
  readonly seq: number;
  readonly window: { readonly from: number; readonly to: number };
  /** The fleet shard and ownership epoch of the publisher (header `sh`, `ep`): audit only. */
  readonly shard?: string;
  readonly epoch?: number;
}

/** Float64Array is host-endian; the wire is little-endian (every Cloud Run host is). */
export const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;
/** The schema version of one batch (see encode.ts); the header ends at the first newline. */
export const SCHEMA_VERSION = 3;
/** The version of a bundle: many v3 batches in one message (see bundle.ts). */
export const BUNDLE_VERSION = 4;
export const NEWLINE = 0x0a;
/** A side as its character code: b(uy), s(ell), u(nknown); 0, no side, makes the reader quarantine the tick. */
export function sideCode(side: string): number {
  return side === 'buy' ? 0x62 : side === 'sell' ? 0x73 : side === 'unknown' ? 0x75 : 0;
}
export const [CHAR_0, CHAR_1] = [0x30, 0x31];
/**
 * float64 fields stored per tick, in wire order (book changes add their price levels after these). A
 * quote's last one is its key column: the update id when the exchange sent a number, NaN otherwise. It is
 * sent when no quote of the batch has a text id, else the ids go in the header (see encode).
 */
export const FIELDS: Readonly<Record<DataType, number>> = {
  trade: 4,
  book_ticker: 7,
  book_change: 2,
  derivative_ticker: 9,
  liquidation: 4,
};
export const QUOTE_KEY_COLUMN = FIELDS.book_ticker - 1;
/** Rough encoded size per tick and per price level, so batches are bounded without encoding twice. */
export const TICK_BYTES: Readonly<Record<DataType, number>> = {
  trade: 96,
  book_ticker: 120,
  book_change: 64,
  derivative_ticker: 160,
  liquidation: 96,
};
export const LEVEL_BYTES = 24;
