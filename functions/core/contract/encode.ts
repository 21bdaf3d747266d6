import { hasKeyedRowId, rowId } from '../model/row-id.ts';
import { TickColumns } from './tick-columns.ts';
import { SCHEMA_VERSION, type ColumnsHead } from './wire-layout.ts';
import { attributesOf, type Batch, type EncodedMessage } from './batch.ts';

/**
 * Message contract v3 (docs/ARCHITECTURE.md): one Pub/Sub message carries one batch of one stream.
 * data = a one-line UTF-8 JSON header (routing fields, ids, sides), a newline, then the numbers as
 * little-endian float64 columns: copied, not formatted as decimal text (see docs/PERFORMANCE.md).
 * Keyed row ids (trade id, quote update id) are derived by the reader, so only content-hash ids travel.
 * v3 is v2 plus one thing: quote update ids the exchange sent as numbers may travel as one more column
 * instead of header text. The writer still reads v2 and v1 (all-JSON, positional arrays) from older
 * relays. The attributes repeat the routing fields so subscribers can filter without decoding.
 */

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
