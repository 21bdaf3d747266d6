/**
 * Replays normalized data from a Tardis-compatible endpoint with tardis-dev and prints one JSON object
 * per line: every normalized message, then {"type":"end","count":N}, or {"type":"error",...} and exit 1.
 *
 * The history server's certificate must be trusted at process start, e.g.
 *   NODE_EXTRA_CA_CERTS=/tmp/.../cert.pem npx tsx scripts/local/exchange/replay-cli.ts \
 *     --endpoint https://127.0.0.1:PORT/v1 --from 2024-03-01T00:00:00Z --to 2024-03-01T00:02:00Z
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { init, replayNormalized, type Exchange } from 'tardis-dev';
import { TICK_NORMALIZERS } from '../../../functions/adapters/tardis/normalizers.ts';
import { errorMessage } from '../../../functions/core/shared/errors.ts';

// The gap-filler's normalizers: book tickers carry the exchange's update id (`updateId`).
const NORMALIZERS = {
  trades: TICK_NORMALIZERS.trade,
  bookTickers: TICK_NORMALIZERS.book_ticker,
  bookChanges: TICK_NORMALIZERS.book_change,
} as const;

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    'cache-dir': { type: 'string' },
    exchange: { type: 'string', default: 'binance' },
    symbols: { type: 'string', default: 'btcusdt' },
    from: { type: 'string' },
    to: { type: 'string' },
    'api-key': { type: 'string' },
    normalizers: { type: 'string', default: 'trades' },
  },
});

/** The fields every normalized message and disconnect share. */
interface Normalized {
  readonly type: string;
  readonly localTimestamp: Date;
  readonly timestamp?: Date;
}

const write = (line: unknown): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

async function main(): Promise<void> {
  if (values.endpoint === undefined || values.from === undefined || values.to === undefined) {
    throw new Error('--endpoint, --from and --to are required');
  }
  const normalizers = values.normalizers.split(',').map((name) => {
    const normalizer = NORMALIZERS[name as keyof typeof NORMALIZERS];
    if (normalizer === undefined)
      throw new Error(`unknown normalizer ${name} (use ${Object.keys(NORMALIZERS)})`);
    return normalizer;
  });
  // A fresh cache by default: tardis-dev never re-downloads a cached slice.
  const ownCache = values['cache-dir'] === undefined;
  const cacheDir = values['cache-dir'] ?? (await mkdtemp(join(tmpdir(), 'tickstream-tardis-cache-')));
  try {
    init({
      endpoint: values.endpoint,
      cacheDir,
      ...(values['api-key'] !== undefined ? { apiKey: values['api-key'] } : {}),
    });
    const messages = replayNormalized(
      {
        exchange: values.exchange as Exchange,
        symbols: values.symbols.split(','),
        from: values.from,
        to: values.to,
        withDisconnectMessages: true,
      },
      ...normalizers,
    ) as AsyncIterable<Normalized>;
    let count = 0;
    for await (const message of messages) {
      count++;
      write({
        ...message,
        timestampMs: message.timestamp?.getTime(),
        localTimestampMs: message.localTimestamp.getTime(),
      });
    }
    write({ type: 'end', count });
  } finally {
    if (ownCache) await rm(cacheDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  const message = errorMessage(error);
  write({ type: 'error', message });
  process.exitCode = 1;
});
