/**
 * A local stand-in for the Tardis.dev historical API, serving the same ground truth as the simulator.
 *
 * HTTPS only, because tardis-dev's downloader uses https.get: a client process trusts it by starting
 * with NODE_EXTRA_CA_CERTS=<certPath> and calling init({ endpoint: server.endpoint, cacheDir }).
 * Serves GET /v1/data-feeds/{binance|coinbase}?from=ISO&offset=N&filters=<url-encoded JSON>: one minute
 * slice [floor_minute(from) + N min, +1 min) per request, gzip of lines
 * `<28-char local timestamp> <exchange message JSON>\n` (Binance: combined-stream frames, channels
 * `trade`/`bookTicker`/`depth` plus the recorder's REST `depthSnapshot`; Coinbase: feed messages, channels
 * `match`/`ticker`/`l2update`/`snapshot`), cut by local timestamp as Tardis does. The simulated recorder
 * stores an order book snapshot at the start of every minute (see README: a stand-in choice).
 * Faults and counters are driven programmatically or over a plain-HTTP control port.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import {
  BINANCE_EXCHANGE,
  formatTardisTimestamp,
  localTimestampMicros,
  type TimeUnit,
} from './binance-wire.ts';
import type { HistoryWire } from './exchange-protocol.ts';
import { bookSnapshot, tickSource, type GroundTruthStream, type TickKind } from './ground-truth.ts';
import { BadRequestError, handleControl, numberField, readJsonObject, sendJson } from './http-json.ts';
import { PROTOCOLS } from './protocols.ts';
import { createSelfSignedCert } from './tls-cert.ts';
import { seededRandom } from '../seeded-random.ts';
import { errorMessage } from '../../../functions/core/shared/errors.ts';

const gzip = promisify(gzipCallback);
const MINUTE_MS = 60_000;

/**
 * What a slice newer than the availability horizon (now - availabilityDelayMs) returns:
 * 'truncate' (default): 200 with only the lines older than the horizon (an empty slice when all are newer);
 * a number: that HTTP status for any slice that ends after the horizon (400 fails tardis-dev at once,
 * 5xx/429 make it retry with backoff).
 */
export type NotYetAvailable = 'truncate' | number;

export interface HistoryServerOptions {
  readonly seed: number;
  readonly ratePerSymbol: number;
  /**
   * Symbols served when a filter names none: those with the exchange's shape (Binance `btcusdt`,
   * Coinbase `btc-usd`). Default ['btcusdt'] and ['btc-usd'].
   */
  readonly symbols?: readonly string[];
  /** When set, requests need `Authorization: Bearer <apiKey>` (401 otherwise). */
  readonly apiKey?: string;
  /** Data becomes available this long after it happened. Default 0. */
  readonly availabilityDelayMs?: number;
  readonly notYetAvailable?: NotYetAvailable;
  /** Fixed receive latency added to local timestamps. Default 0 (slices align with exchange minutes). */
  readonly localLatencyMs?: number;
  /** timeUnit the recorder used: tardis-dev records Binance with microsecond. */
  readonly timeUnit?: TimeUnit;
  /** See BinanceWireOptions.bookTickerEventTime. Default false. */
  readonly bookTickerEventTime?: boolean;
  /** Windows [from, to) (epoch ms, local time) the recorder missed: no data, one empty line (a disconnect). */
  readonly recorderGaps?: readonly { readonly from: number; readonly to: number }[];
  readonly port?: number;
  readonly controlPort?: number;
  readonly host?: string;
  readonly now?: () => number;
}

export interface HistoryRequestRecord {
  readonly n: number;
  readonly receivedAt: number;
  readonly path: string;
  readonly from: string | null;
  readonly offset: number | null;
  /** The raw (decoded) filters query parameter. */
  readonly filters: string | null;
  readonly status: number;
  readonly lines: number;
}

export interface HistoryServerStats {
  readonly requests: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly slicesServed: number;
  readonly linesServed: number;
  readonly injectedFailures: number;
}

export interface HistoryServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** What tardis-dev's init({ endpoint }) takes: url + '/v1'. */
  readonly endpoint: string;
  readonly port: number;
  /** PEM to pass as NODE_EXTRA_CA_CERTS (or as `ca`) to clients. */
  readonly certPath: string;
  readonly cert: string;
  /** Plain-HTTP control base URL. */
  readonly controlUrl: string;
  /** The ground-truth stream of a symbol (default exchange binance). */
  groundTruth(symbol: string, exchange?: string): GroundTruthStream;
  /** The next `count` data requests answer `status` (default 500) with `message`. */
  failNext(count: number, status?: number, message?: string): void;
  /** Each data request answers `status` (default 500) with probability `share` (seeded, so repeatable). */
  failShare(share: number, status?: number): void;
  /** Delays every response by `ms`. */
  setLatency(ms: number): void;
  setAvailability(delayMs: number, mode?: NotYetAvailable): void;
  /** Removes injected failures and latency. */
  clear(): void;
  stats(): HistoryServerStats;
  requests(): HistoryRequestRecord[];
  /** Closes both servers and deletes the certificate; safe to call twice. */
  stop(): Promise<void>;
}

interface Filter {
  readonly channel: string;
  readonly symbols?: readonly string[];
}

class HttpFailure extends Error {
  override readonly name = 'HttpFailure';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parseFilters(raw: string | null): Filter[] | undefined {
  if (raw === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new HttpFailure(400, "Invalid 'filters' param: not JSON");
  }
  if (!Array.isArray(parsed)) throw new HttpFailure(400, "Invalid 'filters' param: expected an array");
  return parsed.map((f: unknown) => {
    const filter = f as { channel?: unknown; symbols?: unknown };
    if (typeof filter?.channel !== 'string')
      throw new HttpFailure(400, "Invalid 'filters' param: channel missing");
    const symbols = filter.symbols;
    if (symbols !== undefined && (!Array.isArray(symbols) || !symbols.every((s) => typeof s === 'string'))) {
      throw new HttpFailure(400, "Invalid 'filters' param: symbols must be strings");
    }
    return { channel: filter.channel, symbols: symbols as string[] | undefined };
  });
}

/** How Tardis stores each exchange's data, from the exchange's protocol file. */
const WIRES: Readonly<Record<string, HistoryWire>> = Object.fromEntries(
  Object.values(PROTOCOLS).map((protocol) => [protocol.exchange, protocol.history]),
);

/** Starts the HTTPS data server and its control server; resolves once both listen. */
export async function startHistoryServer(options: HistoryServerOptions): Promise<HistoryServer> {
  const exchange = BINANCE_EXCHANGE;
  const now = options.now ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  const defaultSymbolsOf = (wire: HistoryWire): string[] => {
    const mine = (options.symbols ?? []).map((s) => s.toLowerCase()).filter(wire.isSymbol);
    return mine.length > 0 ? mine : [wire.fallbackSymbol];
  };
  const latencyMs = options.localLatencyMs ?? 0;
  const wire = {
    timeUnit: options.timeUnit ?? 'microsecond',
    bookTickerEventTime: options.bookTickerEventTime,
  };
  const streamOf = (symbol: string, on: string = exchange): GroundTruthStream => ({
    seed: options.seed,
    exchange: on,
    symbol: symbol.toLowerCase(),
    rate: options.ratePerSymbol,
  });
  tickSource('trade', streamOf('btcusdt')); // validates seed and rate up front

  let availabilityDelayMs = options.availabilityDelayMs ?? 0;
  let notYetAvailable: NotYetAvailable = options.notYetAvailable ?? 'truncate';
  let failNextCount = 0;
  let failNextStatus = 500;
  let failNextMessage = 'Internal Server Error (injected)';
  let failShareValue = 0;
  let failShareStatus = 500;
  const shareRandom = seededRandom(options.seed ^ 0x5eed);
  let latency = 0;
  let requestCount = 0;
  let slicesServed = 0;
  let linesServed = 0;
  let injectedFailures = 0;
  const byStatus: Record<string, number> = {};
  const log: HistoryRequestRecord[] = [];
  const pendingDelays = new Set<NodeJS.Timeout>();

  const sliceBody = (on: string, sliceStart: number, filters: readonly Filter[] | undefined): string[] => {
    const wireOf = WIRES[on]!;
    const sliceEnd = sliceStart + MINUTE_MS;
    const horizon = now() - availabilityDelayMs;
    const wanted: readonly Filter[] =
      filters ??
      [...Object.keys(wireOf.channelKinds), wireOf.snapshotChannel].map((channel) => ({ channel }));
    const entries: { local: number; order: number; line: string }[] = [];
    const seen = new Set<string>();
    const inRecorderGap = (ms: number): boolean =>
      options.recorderGaps?.some((g) => ms >= g.from && ms < g.to) ?? false;
    for (const filter of wanted) {
      if (filter.channel === wireOf.snapshotChannel) {
        // The recorder's snapshot at the slice start holds every update received (local time) before it.
        if (sliceStart >= horizon || inRecorderGap(sliceStart)) continue;
        for (const symbol of (filter.symbols ?? defaultSymbolsOf(wireOf)).map((s) => s.toLowerCase())) {
          if (seen.has(`snapshot|${symbol}`)) continue;
          seen.add(`snapshot|${symbol}`);
          const stream = streamOf(symbol, on);
          const lastUpdateId = tickSource('bookChange', stream).indexAtOrAfter(sliceStart - latencyMs);
          const message = wireOf.snapshotMessage(bookSnapshot(stream, lastUpdateId), sliceStart);
          entries.push({
            local: sliceStart * 1000,
            order: -0.5,
            line: `${formatTardisTimestamp(sliceStart * 1000)} ${JSON.stringify(message)}`,
          });
        }
        continue;
      }
      const kind: TickKind | undefined = wireOf.channelKinds[filter.channel];
      if (kind === undefined) continue; // a valid channel this ground truth has no data for
      for (const symbol of (filter.symbols ?? defaultSymbolsOf(wireOf)).map((s) => s.toLowerCase())) {
        if (seen.has(`${kind}|${symbol}`)) continue;
        seen.add(`${kind}|${symbol}`);
        const source = tickSource(kind, streamOf(symbol, on));
        // Local time = exchange time + latency + <1 ms, so these exchange-time bounds cover the slice.
        const first = source.indexAtOrAfter(sliceStart - latencyMs - 1);
        const end = source.indexAtOrAfter(Math.min(sliceEnd, horizon) - latencyMs + 1);
        for (const tick of source.ticks(first, end)) {
          const local = localTimestampMicros(tick, latencyMs);
          const localMs = Math.floor(local / 1000);
          if (localMs < sliceStart || localMs >= sliceEnd || localMs >= horizon) continue;
          if (inRecorderGap(localMs)) continue;
          entries.push({
            local,
            order: entries.length,
            line: `${formatTardisTimestamp(local)} ${JSON.stringify(wireOf.message(tick, wire))}`,
          });
        }
      }
    }
    for (const gap of options.recorderGaps ?? []) {
      if (gap.from < sliceEnd && gap.to > sliceStart && gap.from < horizon) {
        entries.push({ local: Math.max(gap.from, sliceStart) * 1000, order: -1, line: '' });
      }
    }
    entries.sort((a, b) => a.local - b.local || a.order - b.order);
    return entries.map((e) => e.line);
  };

  const serveDataFeed = async (
    url: URL,
    req: IncomingMessage,
  ): Promise<{ status: number; lines: number; body: Buffer | string }> => {
    if (failNextCount > 0) {
      failNextCount--;
      injectedFailures++;
      throw new HttpFailure(failNextStatus, failNextMessage);
    }
    if (failShareValue > 0 && shareRandom() < failShareValue) {
      injectedFailures++;
      throw new HttpFailure(failShareStatus, 'Internal Server Error (injected share)');
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      throw new HttpFailure(401, 'Invalid API key');
    }
    const match = /^\/v1\/data-feeds\/([^/]+)$/.exec(url.pathname);
    if (match === null) throw new HttpFailure(404, 'Not found');
    const on = match[1]!;
    if (WIRES[on] === undefined)
      throw new HttpFailure(400, `Invalid 'exchange' param: ${on} is not served here`);
    const fromText = url.searchParams.get('from');
    const fromMs = fromText === null ? Number.NaN : Date.parse(fromText);
    // Deliberately not the words tardis-dev looks for ("ISO 8601 format"): it retries those 400s.
    if (Number.isNaN(fromMs)) throw new HttpFailure(400, "Invalid 'from' param: not a date");
    const offsetText = url.searchParams.get('offset') ?? '0';
    const offset = Number(offsetText);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new HttpFailure(400, "Invalid 'offset' param");
    const filters = parseFilters(url.searchParams.get('filters'));
    const sliceStart = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS + offset * MINUTE_MS;
    if (typeof notYetAvailable === 'number' && sliceStart + MINUTE_MS > now() - availabilityDelayMs) {
      throw new HttpFailure(
        notYetAvailable,
        `Data for ${new Date(sliceStart).toISOString()} is not available yet`,
      );
    }
    const lines = sliceBody(on, sliceStart, filters);
    const body = await gzip(lines.length === 0 ? '' : `${lines.join('\n')}\n`);
    slicesServed++;
    linesServed += lines.length;
    return { status: 200, lines: lines.length, body };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const n = ++requestCount;
    const receivedAt = now();
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (latency > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          pendingDelays.delete(timer);
          resolve();
        }, latency);
        pendingDelays.add(timer);
      });
    }
    let status: number;
    let lines = 0;
    try {
      const result = await serveDataFeed(url, req);
      status = result.status;
      lines = result.lines;
      res.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'content-encoding': 'gzip',
        'content-length': result.body.length,
      });
      res.end(result.body);
    } catch (error) {
      status = error instanceof HttpFailure ? error.status : 500;
      const message = errorMessage(error);
      sendJson(res, status, { code: status, message });
    }
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    log.push({
      n,
      receivedAt,
      path: url.pathname,
      from: url.searchParams.get('from'),
      offset: url.searchParams.has('offset') ? Number(url.searchParams.get('offset')) : null,
      filters: url.searchParams.get('filters'),
      status,
      lines,
    });
  };

  const failNext = (count: number, status = 500, message = 'Internal Server Error (injected)'): void => {
    failNextCount = count;
    failNextStatus = status;
    failNextMessage = message;
  };
  const failShare = (share: number, status = 500): void => {
    failShareValue = share;
    failShareStatus = status;
  };
  const setLatency = (ms: number): void => {
    latency = ms;
  };
  const setAvailability = (delayMs: number, mode: NotYetAvailable = notYetAvailable): void => {
    availabilityDelayMs = delayMs;
    notYetAvailable = mode;
  };
  const clear = (): void => {
    failNextCount = 0;
    failShareValue = 0;
    latency = 0;
  };
  const stats = (): HistoryServerStats => ({
    requests: requestCount,
    byStatus: { ...byStatus },
    slicesServed,
    linesServed,
    injectedFailures,
  });

  const control = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    await handleControl(res, async () => {
      switch (`${req.method ?? 'GET'} ${url.pathname}`) {
        case 'GET /control/stats':
          return stats();
        case 'GET /control/requests':
          return log;
        case 'GET /control/info':
          return {
            exchange,
            seed: options.seed,
            ratePerSymbol: options.ratePerSymbol,
            endpoint,
            certPath: cert.certPath,
          };
        case 'POST /control/fail': {
          const body = await readJsonObject(req);
          const message = typeof body.message === 'string' ? body.message : undefined;
          failNext(numberField(body, 'count'), numberField(body, 'status', 500), message);
          return stats();
        }
        case 'POST /control/fail-share': {
          const body = await readJsonObject(req);
          const share = numberField(body, 'share');
          if (share > 1) throw new BadRequestError('"share" must be in [0, 1]');
          failShare(share, numberField(body, 'status', 500));
          return stats();
        }
        case 'POST /control/latency':
          setLatency(numberField(await readJsonObject(req), 'ms'));
          return stats();
        case 'POST /control/availability': {
          const body = await readJsonObject(req);
          const mode =
            body.mode === undefined || body.mode === 'truncate' ? 'truncate' : numberField(body, 'mode');
          setAvailability(numberField(body, 'delayMs'), mode);
          return stats();
        }
        case 'POST /control/clear':
          clear();
          return stats();
        default:
          return undefined;
      }
    });
  };

  const cert = await createSelfSignedCert();
  const server = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => void handle(req, res));
  const controlServer = createHttpServer((req, res) => void control(req, res));
  const listen = (s: typeof server | typeof controlServer, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve((s.address() as AddressInfo).port);
      });
    });
  let port: number;
  let controlPort: number;
  try {
    port = await listen(server, options.port ?? 0);
    controlPort = await listen(controlServer, options.controlPort ?? 0);
  } catch (error) {
    server.close();
    controlServer.close();
    await cert.remove();
    throw error;
  }
  const url = `https://${host}:${port}`;
  const endpoint = `${url}/v1`;

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const timer of pendingDelays) clearTimeout(timer);
      pendingDelays.clear();
      const closing = [server, controlServer].map(
        (s) => new Promise<void>((resolve) => s.close(() => resolve())),
      );
      server.closeAllConnections();
      controlServer.closeAllConnections();
      await Promise.all(closing);
      await cert.remove();
    })();
    return stopped;
  };

  return {
    url,
    endpoint,
    port,
    certPath: cert.certPath,
    cert: cert.cert,
    controlUrl: `http://${host}:${controlPort}/control`,
    groundTruth: streamOf,
    failNext,
    failShare,
    setLatency,
    setAvailability,
    clear,
    stats,
    requests: () => log.map((r) => ({ ...r })),
    stop,
  };
}
