import type { StreamKey } from '../model/streams.ts';
import type { Tick } from '../model/tick.ts';
import type { ColumnsHead } from './wire-layout.ts';

// The wire contract's batch: one stream's ticks and window (v3 layout in encode.ts, bundles of them in bundle.ts).

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
   * where the message must carry one (keyed ids, which v2 and v3 do not carry, may be left unbuilt; see
   * `carriedRowId`).
   */
  readonly rowIds: readonly (string | undefined)[];
  /** The fleet shard (`exchange/index`) and the publisher's ownership epoch, for audit; never used to drop data. */
  readonly shard?: string;
  readonly epoch?: number;
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

/** A batch as the relay publishes it: encoded once when cut, with what the relay accounts for it. */
export interface SealedBatch {
  readonly stream: StreamKey;
  readonly seq: number;
  readonly window: Window;
  /** Ticks in the batch. */
  readonly count: number;
  /** The v3 message of this batch alone; a v4 bundle carries its data as one section. */
  readonly message: EncodedMessage;
  /** Set by a fleet relay when the batch is handed to the broker (see Batch.shard, Batch.epoch). */
  readonly shard?: string;
  readonly epoch?: number;
}

export function attributesOf(head: ColumnsHead, count: number, version: number): Record<string, string> {
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
