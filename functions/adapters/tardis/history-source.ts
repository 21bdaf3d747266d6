import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, replayNormalized, type Exchange } from 'tardis-dev';
import { HistoryError, historyFailureForStatus } from '../../core/gapfill/history.ts';
import type { HistorySource } from '../../core/ports.ts';
import type { StreamKey } from '../../core/model/streams.ts';
import { errorMessage } from '../../core/shared/errors.ts';
import type { Tick } from '../../core/model/tick.ts';
import { abortable } from './abortable.ts';
import { fromTardis } from './mapping.ts';
import { TICK_NORMALIZERS } from './normalizers.ts';

const MINUTE = 60_000;

/**
 * The HistorySource port on tardis-dev's replayNormalized (the Tardis.dev HTTP API, minute slices).
 * Slices are cached in a private directory and removed after each replay: a slice fetched before the
 * provider had all of its data must never be served from cache later.
 */
export class TardisHistorySource implements HistorySource {
  constructor(options: { endpoint: string; apiKey: string; cacheDir?: string }) {
    init({
      endpoint: options.endpoint,
      apiKey: options.apiKey,
      cacheDir: options.cacheDir ?? mkdtempSync(join(tmpdir(), 'tickstream-tardis-')),
    });
    this.apiKey = options.apiKey;
  }

  private readonly apiKey: string;

  async *ticks(stream: StreamKey, from: number, to: number, signal: AbortSignal): AsyncIterable<Tick> {
    const source = replayNormalized(
      {
        exchange: stream.exchange as Exchange,
        symbols: [stream.symbol],
        from: new Date(Math.floor(from / MINUTE) * MINUTE).toISOString(),
        to: new Date(Math.ceil(to / MINUTE) * MINUTE).toISOString(),
        apiKey: this.apiKey,
        autoCleanup: true,
      },
      // Quotes carry the update id as the live feed's do, so backfilled ticks get the live row ids.
      TICK_NORMALIZERS[stream.type] as Parameters<typeof replayNormalized>[1],
    ) as AsyncIterableIterator<{ type: string }>;
    const fromUs = from * 1000;
    const toUs = to * 1000;
    try {
      yield* abortable(source, signal, (message) => {
        const tick = fromTardis(message);
        if (!tick || tick.type !== stream.type || tick.symbol !== stream.symbol) return undefined;
        return tick.localTs >= fromUs && tick.localTs < toUs ? tick : undefined;
      });
    } catch (error) {
      throw toHistoryError(error);
    }
    if (signal.aborted) {
      throw new HistoryError(
        `history fetch aborted: ${String(signal.reason ?? 'timeout')}`,
        'unavailable',
        undefined,
      );
    }
  }
}

/** tardis-dev raises `HttpError: status code: N, ...` (also across its worker thread, as a message). */
function toHistoryError(error: unknown): HistoryError {
  const message = errorMessage(error);
  const status = /status code: (\d{3})/.exec(message)?.[1];
  if (status) {
    return new HistoryError(message.slice(0, 300), historyFailureForStatus(Number(status)), Number(status), {
      cause: error,
    });
  }
  return new HistoryError(message.slice(0, 300), 'unavailable', undefined, { cause: error });
}
