/**
 * OKX's v5 public websocket for perpetual swaps as tardis-dev 13.35.3 uses it, on `/okex-swap` (tardis-dev
 * points both its public and its business socket there: WSS_URL_OKEX_SWAP replaces both URLs).
 * `{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT-SWAP"}]}` is acknowledged arg by arg with
 * `{"event":"subscribe","arg":{...},"connId":".."}`; an arg naming an instrument OKX does not list (or a
 * channel it does not have) gets `{"event":"error","code":"60018","msg":"Wrong URL or channel:..,instId:..
 * doesn't exist. ..."}` and the others are still subscribed. `books` starts with a snapshot. A text `ping`
 * is answered `pong`; a request that is not JSON or names no known op gets code 60012.
 */
import { bookSnapshot } from './ground-truth.ts';
import {
  parseJson,
  type ConnectionLink,
  type ExchangeProtocol,
  type SimulatorContext,
} from './exchange-protocol.ts';
import {
  OKEX_SWAP_CHANNEL_KINDS,
  OKEX_SWAP_EXCHANGE,
  OKEX_SWAP_SILENT_CHANNELS,
  OKEX_SWAP_TARDIS_CHANNEL_KINDS,
  isOkexSwapInstId,
  okexBookSnapshot,
  okexInvalidRequest,
  okexSubscribed,
  okexSwapMessage,
  okexSwapOfIndex,
  okexUnknownInstrument,
  type OkexArg,
} from './okex-swap-wire.ts';

/** Channels whose instId is an index (`BTC-USDT`) rather than a swap: the swap's ground truth feeds it. */
const INDEX_CHANNELS: readonly string[] = ['index-tickers'];
/** Channels subscribed per instrument type (`{"instType":"SWAP"}`), not per instrument. */
const INST_TYPE_CHANNELS: readonly string[] = ['liquidation-orders'];

/** The lower-case swap an arg is about (for an index, its swap), or why OKX refuses the arg. */
function instrumentOf(arg: OkexArg, ctx: SimulatorContext): { symbol: string } | 'refused' | 'instType' {
  const known =
    Object.hasOwn(OKEX_SWAP_CHANNEL_KINDS, arg.channel) || OKEX_SWAP_SILENT_CHANNELS.includes(arg.channel);
  if (INST_TYPE_CHANNELS.includes(arg.channel)) return arg.instType === 'SWAP' ? 'instType' : 'refused';
  const instId = typeof arg.instId === 'string' ? arg.instId : '';
  const swap = INDEX_CHANNELS.includes(arg.channel) ? okexSwapOfIndex(instId).toUpperCase() : instId;
  if (!known || !isOkexSwapInstId(swap) || ctx.isUnlisted(swap.toLowerCase())) return 'refused';
  return { symbol: swap.toLowerCase() };
}

/**
 * `liquidation-orders` for every swap: one subscription per swap that carries data (none when the simulator
 * serves any symbol: it cannot list them). OKX opens the channel by pushing the latest liquidations again.
 */
function subscribeLiquidations(
  link: ConnectionLink,
  ctx: SimulatorContext,
  arg: OkexArg,
  connId: string,
): void {
  const swaps = (ctx.symbols ?? []).filter((s) => isOkexSwapInstId(s.toUpperCase()) && !ctx.isUnlisted(s));
  link.reply(okexSubscribed(arg, connId));
  // OKX re-sends its latest liquidation on subscribe: the pump sends it first, as a tick it sent.
  for (const symbol of swaps) link.subscribe(`${arg.channel}:${symbol}`, symbol, 'liquidation', 1);
}

/** Subscribes one arg and acknowledges it; a `books` subscription then gets the book as a snapshot. */
function subscribeOne(link: ConnectionLink, ctx: SimulatorContext, arg: OkexArg, connId: string): void {
  const instrument = instrumentOf(arg, ctx);
  if (instrument === 'refused') return link.reply(okexUnknownInstrument(arg, connId));
  if (instrument === 'instType') return subscribeLiquidations(link, ctx, arg, connId);
  const { symbol } = instrument;
  const kind = OKEX_SWAP_CHANNEL_KINDS[arg.channel];
  const { isNew, source, nextIndex } = link.subscribe(`${arg.channel}:${symbol}`, symbol, kind);
  link.reply(okexSubscribed(arg, connId));
  if (!isNew || source === undefined || source.kind !== 'bookChange') return;
  const at = ctx.now();
  ctx.recordSnapshot(symbol, nextIndex, at, link.id);
  link.reply(okexBookSnapshot(bookSnapshot(source.stream, nextIndex), at, arg.channel));
}

/** Removes an arg's subscriptions (every swap's, for an instrument type). */
function unsubscribeOne(link: ConnectionLink, ctx: SimulatorContext, arg: OkexArg, connId: string): void {
  const instrument = instrumentOf(arg, ctx);
  const prefix = `${arg.channel}:`;
  for (const name of link.subscriptionNames()) {
    const symbol = name.slice(prefix.length);
    if (
      name.startsWith(prefix) &&
      (instrument === 'instType' || symbol === (instrument as { symbol?: string }).symbol)
    )
      link.unsubscribe(name);
  }
  link.reply({ event: 'unsubscribe', arg, connId });
}

function onRequest(link: ConnectionLink, ctx: SimulatorContext, text: string, connId: string): void {
  if (text === 'ping') return link.replyText('pong');
  const request = parseJson(text) as { op?: unknown; args?: unknown } | undefined;
  const args = Array.isArray(request?.args) ? (request.args as unknown[]) : undefined;
  if ((request?.op !== 'subscribe' && request?.op !== 'unsubscribe') || args === undefined) {
    return link.reply(okexInvalidRequest(text, connId));
  }
  link.countSubscribeRequest();
  for (const raw of args) {
    const arg = raw as OkexArg;
    if (typeof arg?.channel !== 'string') {
      link.reply(okexInvalidRequest(JSON.stringify(raw), connId));
    } else if (request.op === 'unsubscribe') {
      unsubscribeOne(link, ctx, arg, connId);
    } else {
      subscribeOne(link, ctx, arg, connId);
    }
  }
}

export const OKEX_SWAP_PROTOCOL: ExchangeProtocol = {
  exchange: OKEX_SWAP_EXCHANGE,
  wsPath: '/okex-swap',
  wsQuery: '',
  open: (link, _url, ctx) => {
    const connId = (0x1000_0000 + link.id).toString(16);
    return {
      timeUnit: 'millisecond',
      onMessage: (text) => onRequest(link, ctx, text, connId),
      // The subscription name is `<channel>:<swap>`: the channel decides the message.
      frame: (tick, name) => okexSwapMessage(tick, name.slice(0, name.indexOf(':'))),
    };
  },
  history: {
    channelKinds: OKEX_SWAP_TARDIS_CHANNEL_KINDS,
    isSymbol: (s) => s.endsWith('-swap'),
    fallbackSymbol: 'btc-usdt-swap',
    groundTruthSymbol: (channel, symbol) =>
      INDEX_CHANNELS.includes(channel) ? okexSwapOfIndex(symbol) : symbol,
    message: (tick, _wire, channel) => okexSwapMessage(tick, channel),
    snapshotChannel: ['books', 'books-l2-tbt'],
    snapshotMessage: (book, at, channel) => okexBookSnapshot(book, at, channel),
  },
};
