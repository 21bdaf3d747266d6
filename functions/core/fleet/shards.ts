/**
 * Which connection carries which stream: the configured streams of each exchange are split into shards, one
 * shard per exchange connection (one tardis-dev `stream()` call), within the exchange's per-connection cap.
 * A pure function of the set of streams, so every relay instance computes the same shards.
 */
import { createHash } from 'node:crypto';
import { exchangeDescriptor } from '../exchanges/index.ts';
import { streamId, type StreamKey } from '../model/streams.ts';
import { DEFAULT_FLEET_OPTIONS, type FleetOptions } from './options.ts';

/** One exchange connection's worth of streams; `id` (`binance/3`) stays the same while the index does. */
export interface Shard {
  readonly id: string;
  readonly exchange: string;
  readonly index: number;
  /** Sorted by stream id. */
  readonly streams: readonly StreamKey[];
}

/** How one exchange's streams are split: the hard cap per shard, the planned load, the least shard count. */
export interface ShardLimits {
  readonly maxStreams: number;
  readonly targetStreams: number;
  readonly minShards: number;
}

const MASK_64 = (1n << 64n) - 1n;

/**
 * Jump consistent hash (Lamping and Veach, 2014) of a stream id onto `[0, shardCount)`: growing the count
 * from n to n + 1 moves only the streams that land on the new shard, about 1/(n + 1) of them.
 */
export function shardIndex(id: string, shardCount: number): number {
  let key = createHash('sha256').update(id).digest().readBigUInt64BE(0);
  let bucket = -1;
  let next = 0;
  while (next < shardCount) {
    bucket = next;
    key = (key * 2862933555777941757n + 1n) & MASK_64;
    next = Math.floor((bucket + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return bucket;
}

/** The id of shard `index` of `exchange`: `binance/3`. */
export function shardId(exchange: string, index: number): string {
  return `${exchange}/${index}`;
}

/**
 * Splits one exchange's streams into ceil(streams / targetStreams) shards (at least minShards). Should a
 * shard still exceed maxStreams, the count grows by one until none does (each step moves few streams);
 * it throws rather than ever put more than maxStreams on one connection. Empty shards are left out.
 */
export function exchangeShards(
  exchange: string,
  streams: readonly StreamKey[],
  limits: ShardLimits,
): Shard[] {
  const ids = [...new Set(streams.map(streamId))].sort();
  const byId = new Map(streams.map((s) => [streamId(s), s]));
  const planned = Math.max(limits.minShards, Math.ceil(ids.length / limits.targetStreams), 1);
  for (let count = planned; count <= planned + ids.length; count++) {
    const buckets: string[][] = Array.from({ length: count }, () => []);
    for (const id of ids) buckets[shardIndex(id, count)]!.push(id);
    if (buckets.some((b) => b.length > limits.maxStreams)) continue;
    return buckets.flatMap((b, index) =>
      b.length === 0
        ? []
        : [{ id: shardId(exchange, index), exchange, index, streams: b.map((id) => byId.get(id)!) }],
    );
  }
  throw new Error(
    `cannot split ${ids.length} ${exchange} streams into shards of at most ${limits.maxStreams}`,
  );
}

/**
 * The shards of a configuration, ordered by exchange then index, whatever the order of `streams`. Each
 * exchange's cap is its descriptor's maxStreamsPerConnection, planned to `shardFill` of it.
 */
export function planShards(
  streams: readonly StreamKey[],
  options: Pick<FleetOptions, 'shardFill' | 'minShardsPerExchange'> = DEFAULT_FLEET_OPTIONS,
): Shard[] {
  const exchanges = [...new Set(streams.map((s) => s.exchange))].sort();
  return exchanges.flatMap((exchange) => {
    const descriptor = exchangeDescriptor(exchange);
    if (descriptor === undefined) throw new Error(`unknown exchange "${exchange}"`);
    const maxStreams = descriptor.maxStreamsPerConnection;
    const limits: ShardLimits = {
      maxStreams,
      targetStreams: Math.max(1, Math.floor(maxStreams * options.shardFill)),
      minShards: options.minShardsPerExchange,
    };
    return exchangeShards(
      exchange,
      streams.filter((s) => s.exchange === exchange),
      limits,
    );
  });
}
