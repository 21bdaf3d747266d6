/** What the writer keeps in quarantine, and those entries as quarantine rows (long payloads in parts). */
import { createHash } from 'node:crypto';
import { batchId as makeBatchId, type Batch } from '../contract/batch.ts';
import type { WarehouseRow } from '../ports.ts';
import { stringifyLoose, type PushEnvelope } from '../contract/push-envelope.ts';
import { quarantineRow } from '../contract/quarantine-row.ts';
import type { RefusedRow } from '../shared/durable-insert.ts';

/** Something kept verbatim in quarantine: a whole message or one tick. */
export interface QuarantineEntry {
  readonly id: string;
  readonly reason: string;
  readonly detail: string;
  readonly payload: string;
}

/**
 * Quarantine entries as rows, with their estimated sizes. Stream fields come from the batch when it
 * decoded, else from the message attributes; a payload over `chunkChars` is stored in numbered parts.
 */
export function quarantineRows(
  envelope: PushEnvelope,
  batch: Batch | undefined,
  entries: readonly QuarantineEntry[],
  receivedAt: number,
  chunkChars: number,
): { rows: WarehouseRow[]; sizes: number[] } {
  const attributes = envelope.message.attributes;
  const rows: WarehouseRow[] = [];
  const sizes: number[] = [];
  for (const entry of entries) {
    const parts = splitPayload(entry.payload, chunkChars);
    parts.forEach((payload, k) => {
      const id = parts.length === 1 ? entry.id : `${entry.id}/part-${k + 1}-of-${parts.length}`;
      const detail = entry.detail.slice(0, 4096);
      rows.push(
        quarantineRow({
          id,
          reason: entry.reason,
          detail: parts.length === 1 ? detail : `${detail} (payload part ${k + 1} of ${parts.length})`,
          messageId: envelope.message.messageId,
          // A bundle's attributes name no batch: the section's own id, when it decoded.
          batchId: short(attributes.batch ?? (batch && makeBatchId(batch.relayId, batch.stream, batch.seq))),
          exchange: short(batch?.stream.exchange ?? attributes.exchange),
          symbol: short(batch?.stream.symbol ?? attributes.symbol),
          dataType: short(batch?.stream.type ?? attributes.type),
          payload,
          receivedAt,
        }),
      );
      sizes.push(Buffer.byteLength(payload) + detail.length + 512);
    });
  }
  return { rows, sizes };
}

/**
 * The key of a message's tick-level quarantine ids (`<key>#<index>`, `<key>#<row id>`): its batch id and a
 * hash of its data. A redelivery or a relay's publish retry (same bytes, new messageId) repeats the key, so
 * its rows collapse in `quarantine_dedup`; a different message claiming the same batch id keeps its own.
 */
export function tickQuarantineKey(batchId: string, data: Buffer): string {
  return `${batchId}@${createHash('sha256').update(data).digest('base64url').slice(0, 22)}`;
}

/** Rows of the message keyed `key` the warehouse refused for good, as quarantine entries keeping their ticks. */
export function refusedEntries(
  key: string,
  rows: readonly WarehouseRow[],
  raw: readonly unknown[],
  refused: readonly RefusedRow[],
): QuarantineEntry[] {
  return refused.map(({ index, why }) => ({
    id: `${key}#${rows[index]!.insertId}`,
    reason: 'rejected_by_warehouse',
    detail: why,
    payload: stringifyLoose(raw[index]),
  }));
}

/** Attribute values are copied into quarantine rows; keep absurd ones from bloating them. */
function short(value: string | undefined): string | null {
  return value === undefined ? null : value.slice(0, 256);
}

/** Splits a payload into parts of at most `max` characters, never inside a surrogate pair. */
export function splitPayload(payload: string, max: number): string[] {
  if (payload.length <= max) return [payload];
  const parts: string[] = [];
  let start = 0;
  while (start < payload.length) {
    let end = Math.min(payload.length, start + max);
    const code = payload.charCodeAt(end - 1);
    if (end < payload.length && code >= 0xd800 && code <= 0xdbff) end--;
    parts.push(payload.slice(start, end));
    start = end;
  }
  return parts;
}
