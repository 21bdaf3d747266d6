/**
 * Deribit's JSON-RPC 2.0 websocket (`/ws/api/v2`) as tardis-dev 13.35.3 uses it without API credentials.
 * On connecting it sends `public/set_heartbeat` (`{"interval":10}`, answered `"result":"ok"`), then one
 * `public/subscribe` (id 3) naming every `<channel>.<INSTRUMENT>.100ms`. Deribit answers with the channels
 * it subscribed and silently leaves out any it does not serve, an instrument it does not list included
 * (`"result":[]` for nothing). `book` starts with a snapshot. Once a heartbeat is set, Deribit sends a
 * `{"method":"heartbeat","params":{"type":"test_request"}}` every interval, which the client answers with
 * `public/test`; here it rides on the pump (before the first push due after the interval), and the
 * simulator does not close a connection that fails to answer, as Deribit would. Unknown methods get
 * JSON-RPC -32601, malformed params -32602. tardis-dev makes no REST call.
 */
import { bookSnapshot, type Tick } from './ground-truth.ts';
import {
  parseJson,
  type ConnectionLink,
  type ExchangeProtocol,
  type ProtocolSession,
  type SimulatorContext,
} from './exchange-protocol.ts';
import {
  DERIBIT_CHANNEL_KINDS,
  DERIBIT_EXCHANGE,
  DERIBIT_HISTORY_INTERVAL,
  deribitBookSnapshot,
  deribitChannelName,
  deribitMessage,
  isDeribitPerpetual,
  parseDeribitChannel,
} from './deribit-wire.ts';

/** The notification intervals Deribit serves (`raw` needs an authorized connection on the real API). */
const INTERVALS: readonly string[] = ['100ms', 'agg2', 'raw'];
/** Deribit's smallest heartbeat interval, seconds. */
const MIN_HEARTBEAT_S = 10;

interface Request {
  readonly id?: unknown;
  readonly method?: unknown;
  readonly params?: { readonly channels?: unknown; readonly interval?: unknown };
}

/** A JSON-RPC answer, stamped as Deribit stamps them (`usIn`/`usOut` in µs). */
function answer(ctx: SimulatorContext, id: unknown, body: { result: unknown } | { error: unknown }) {
  const us = ctx.now() * 1000;
  return { jsonrpc: '2.0', id, ...body, usIn: us, usOut: us, usDiff: 0, testnet: false };
}

const invalidParams = (param: string, reason: string) => ({
  error: { code: -32602, message: 'Invalid params', data: { param, reason } },
});

/**
 * Subscribes each served channel; returns those subscribed and, for each new `book` one, its snapshot
 * (sent after the answer: Deribit confirms a subscription before it pushes on it).
 */
function subscribe(
  link: ConnectionLink,
  ctx: SimulatorContext,
  names: readonly string[],
): { done: string[]; snapshots: unknown[] } {
  const done: string[] = [];
  const snapshots: unknown[] = [];
  for (const name of names) {
    const parsed = parseDeribitChannel(name);
    if (
      parsed === undefined ||
      !Object.hasOwn(DERIBIT_CHANNEL_KINDS, parsed.channel) ||
      !INTERVALS.includes(parsed.interval) ||
      !isDeribitPerpetual(parsed.instrument) ||
      ctx.isUnlisted(parsed.instrument.toLowerCase())
    )
      continue;
    const symbol = parsed.instrument.toLowerCase();
    const { isNew, source, nextIndex } = link.subscribe(name, symbol, DERIBIT_CHANNEL_KINDS[parsed.channel]);
    done.push(name);
    if (!isNew || source === undefined || source.kind !== 'bookChange') continue;
    const at = ctx.now();
    ctx.recordSnapshot(symbol, nextIndex, at, link.id);
    snapshots.push(deribitBookSnapshot(bookSnapshot(source.stream, nextIndex), at, name));
  }
  return { done, snapshots };
}

function openSession(link: ConnectionLink, ctx: SimulatorContext): ProtocolSession {
  let heartbeatMs: number | undefined;
  let nextTestAt = Infinity;
  const onRequest = (request: Request): void => {
    const { id, method, params } = request;
    const channels = Array.isArray(params?.channels) ? (params.channels as unknown[]) : undefined;
    switch (method) {
      case 'public/set_heartbeat': {
        const interval = Number(params?.interval);
        if (!Number.isFinite(interval) || interval < MIN_HEARTBEAT_S)
          return link.reply(answer(ctx, id, invalidParams('interval', `must be >= ${MIN_HEARTBEAT_S}`)));
        heartbeatMs = interval * 1000;
        nextTestAt = ctx.now() + heartbeatMs;
        return link.reply(answer(ctx, id, { result: 'ok' }));
      }
      case 'public/disable_heartbeat':
        heartbeatMs = undefined;
        nextTestAt = Infinity;
        return link.reply(answer(ctx, id, { result: 'ok' }));
      case 'public/test':
        return link.reply(answer(ctx, id, { result: { version: '1.2.26' } }));
      case 'public/subscribe':
      case 'public/unsubscribe': {
        if (channels === undefined || channels.some((c) => typeof c !== 'string'))
          return link.reply(answer(ctx, id, invalidParams('channels', 'must be a list of strings')));
        link.countSubscribeRequest();
        if (method === 'public/unsubscribe') {
          const had = new Set(link.subscriptionNames());
          const removed = (channels as string[]).filter((c) => had.has(c));
          for (const name of removed) link.unsubscribe(name);
          return link.reply(answer(ctx, id, { result: removed }));
        }
        return subscribeAndAnswer(channels as string[], id);
      }
      default:
        return link.reply(answer(ctx, id, { error: { code: -32601, message: 'Method not found' } }));
    }
  };
  const subscribeAndAnswer = (names: readonly string[], id: unknown): void => {
    const { done, snapshots } = subscribe(link, ctx, names);
    link.reply(answer(ctx, id, { result: done }));
    for (const snapshot of snapshots) link.reply(snapshot);
  };
  const onMessage = (text: string): void => {
    const request = parseJson(text);
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return link.reply(answer(ctx, null, { error: { code: -32700, message: 'Parse error' } }));
    }
    onRequest(request as Request);
  };
  const frame = (tick: Tick, name: string): unknown => {
    const now = ctx.now();
    if (heartbeatMs !== undefined && now >= nextTestAt) {
      nextTestAt = now + heartbeatMs;
      link.reply({ jsonrpc: '2.0', method: 'heartbeat', params: { type: 'test_request' } });
    }
    return deribitMessage(tick, name);
  };
  return { timeUnit: 'millisecond', onMessage, frame };
}

export const DERIBIT_PROTOCOL: ExchangeProtocol = {
  exchange: DERIBIT_EXCHANGE,
  wsPath: '/ws/api/v2',
  wsQuery: '',
  open: (link, _url, ctx) => openSession(link, ctx),
  history: {
    channelKinds: DERIBIT_CHANNEL_KINDS,
    isSymbol: (s) => isDeribitPerpetual(s.toUpperCase()),
    fallbackSymbol: 'btc-perpetual',
    message: (tick, _wire, channel) =>
      deribitMessage(tick, deribitChannelName(channel, tick.symbol, DERIBIT_HISTORY_INTERVAL)),
    // The recorder's snapshot is a `book` notification like the changes (history-server.ts).
    snapshotChannel: 'book',
    snapshotMessage: (book, at, channel) =>
      deribitBookSnapshot(book, at, deribitChannelName(channel, book.symbol, DERIBIT_HISTORY_INTERVAL)),
  },
};
