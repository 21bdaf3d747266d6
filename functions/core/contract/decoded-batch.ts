import { DATA_TYPES, isDataType, type StreamKey } from '../model/streams.ts';
import type { Tick } from '../model/tick.ts';
import type { DecodedBatchBody, Window } from './batch.ts';

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

export interface Envelope {
  readonly stream: StreamKey;
  readonly relayId: string;
  readonly seq: number;
  readonly window: Window;
  readonly shard?: string;
  readonly epoch?: number;
}

/** The routing fields v1 and v2 share (and v3's optional fleet audit fields `sh`, `ep`). */
export function envelopeOf(body: Record<string, unknown>): Envelope {
  const { e: exchange, s: symbol, k: type, r: relayId, q: seq, w } = body;
  if (typeof exchange !== 'string' || exchange === '') throw bad('e (exchange)');
  if (typeof symbol !== 'string' || symbol === '') throw bad('s (symbol)');
  if (typeof type === 'string' && type !== '' && !isDataType(type)) {
    // A type added after this writer was built: refused by name, never read as another type.
    throw new MessageDecodeError(
      `unknown data type ${JSON.stringify(type)} (this writer reads ${DATA_TYPES.join(', ')})`,
      'unknown_data_type',
    );
  }
  if (!isDataType(type)) throw bad('k (data type)');
  if (typeof relayId !== 'string' || relayId === '') throw bad('r (relay id)');
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw bad('q (sequence)');
  if (!Array.isArray(w) || w.length !== 2 || !w.every(Number.isSafeInteger) || w[0] > w[1]) {
    throw bad('w (window)');
  }
  const { sh: shard, ep: epoch } = body;
  if (shard !== undefined && (typeof shard !== 'string' || shard === '')) throw bad('sh (shard)');
  if (epoch !== undefined && !(Number.isSafeInteger(epoch) && (epoch as number) >= 0))
    throw bad('ep (epoch)');
  return {
    stream: { exchange, symbol, type },
    relayId,
    seq: seq as number,
    window: { from: w[0], to: w[1] },
    ...(shard === undefined ? {} : { shard }),
    ...(epoch === undefined ? {} : { epoch: epoch as number }),
  };
}

/** Collects decoded ticks and the undecodable ones, by index in the message. */
export class Collector {
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

export function bad(field: string): MessageDecodeError {
  return new MessageDecodeError(`message field ${field} is missing or invalid`, 'invalid_envelope_field');
}
