import { deepStrictEqual } from 'node:assert';
import type { Exchange } from 'tardis-dev';
import { fromTardis } from '../../functions/adapters/tardis/mapping.ts';
import { RawTickNormalizer, TICK_NORMALIZERS } from '../../functions/adapters/tardis/normalizers.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import type { Tick } from '../../functions/core/model/tick.ts';

/**
 * Runs raw exchange messages, in order, through both ways the relay normalizes: the live feed's
 * RawTickNormalizer and the mappers history replays run (TICK_NORMALIZERS, then fromTardis), one of each
 * for the whole sequence (book changes and derivative tickers keep state between messages). They must give
 * the same ticks, or a backfilled tick would not collapse with its live twin; this throws when they differ.
 */
export function normalizeAll(
  exchange: Exchange,
  type: DataType,
  messages: readonly unknown[],
  local: Date,
): Tick[] {
  const mapper = TICK_NORMALIZERS[type](exchange, local);
  const viaMappers: Tick[] = [];
  const live: Tick[] = [];
  const raw = new RawTickNormalizer(exchange, [type], local);
  for (const message of messages) {
    if (mapper.canHandle(message)) {
      for (const m of mapper.map(message, local) ?? []) {
        const tick = fromTardis(m);
        if (tick !== undefined) viaMappers.push(tick);
      }
    }
    raw.normalize(message, local, (tick) => live.push(tick));
  }
  deepStrictEqual(live, viaMappers, 'the live normalizer and the history mappers disagree');
  return live;
}

/** normalizeAll of one message. */
export function normalize(exchange: Exchange, type: DataType, message: unknown, local: Date): Tick[] {
  return normalizeAll(exchange, type, [message], local);
}
