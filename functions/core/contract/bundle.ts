import { MessageDecodeError } from './decoded-batch.ts';
import { BUNDLE_VERSION } from './wire-layout.ts';
import type { EncodedMessage } from './batch.ts';

/**
 * Message contract v4 (docs/ARCHITECTURE.md): one Pub/Sub message carries many batches, of any streams,
 * each a complete v3 message (its own header, window, relay, sequence and columns) called a section.
 * data = a one-line JSON header `{"v":4,"l":[<bytes of each section>]}`, a newline, then the sections
 * back to back. Framing is all a bundle adds, so a section decodes, and is quarantined, on its own.
 */

/** What a bundle's attributes say besides the version: routing for subscribers that filter. */
export interface BundleHead {
  readonly relayId: string;
  /** The fleet shard every section belongs to, when the relay bundles per shard. */
  readonly shard?: string;
  /** The ownership epoch the shard's sections were published under (audit only). */
  readonly epoch?: number;
  /** Ticks over all sections. */
  readonly ticks: number;
}

/** Bundles v3 messages' data (sections) into one v4 message. */
export function encodeBundle(sections: readonly Buffer[], head: BundleHead): EncodedMessage {
  const header = Buffer.from(`${JSON.stringify({ v: BUNDLE_VERSION, l: sections.map((s) => s.length) })}\n`);
  const attributes: Record<string, string> = {
    schema: String(BUNDLE_VERSION),
    relay: head.relayId,
    batches: String(sections.length),
    count: String(head.ticks),
  };
  if (head.shard !== undefined) attributes.shard = head.shard;
  if (head.epoch !== undefined) attributes.epoch = String(head.epoch);
  return { data: Buffer.concat([header, ...sections]), attributes };
}

/** True when `header` (a message's parsed first line) is a bundle's. */
export function isBundleHeader(header: Record<string, unknown>): boolean {
  return header.v === BUNDLE_VERSION;
}

/**
 * The sections of a bundle whose header line ends at `newline`. A frame that does not add up (lengths
 * missing, not integers, or not summing to the bytes after the header) makes the whole message unreadable:
 * no section boundary could then be trusted.
 */
export function splitBundle(header: Record<string, unknown>, data: Buffer, newline: number): Buffer[] {
  const { l: lengths } = header;
  if (!Array.isArray(lengths) || lengths.length === 0) {
    throw new MessageDecodeError('bundle field l (section lengths) is missing or empty', 'invalid_bundle');
  }
  const sections: Buffer[] = [];
  let at = newline + 1;
  for (const length of lengths) {
    if (!Number.isSafeInteger(length) || (length as number) <= 0 || at + (length as number) > data.length) {
      throw new MessageDecodeError('bundle section lengths do not match the data', 'invalid_bundle');
    }
    sections.push(data.subarray(at, at + (length as number)));
    at += length as number;
  }
  if (at !== data.length) {
    throw new MessageDecodeError('bundle data runs past its last section', 'invalid_bundle');
  }
  return sections;
}
