/**
 * The Coinbase Exchange feed as tardis-dev 13.35.3 uses it, on `/coinbase`: `{"type":"subscribe","channels":
 * [{"name":"matches","product_ids":["BTC-USD"]},"heartbeat"],"product_ids":[...]}` is answered with
 * `subscriptions` listing the full set, or one `error` naming the first refused product or channel (and
 * nothing subscribed), as the real feed refuses a product it does not list.
 */
import {
  COINBASE_CHANNEL_KINDS,
  COINBASE_EXCHANGE,
  COINBASE_SILENT_CHANNELS,
  COINBASE_TARDIS_CHANNEL_KINDS,
  coinbaseL2Snapshot,
  coinbaseMatch,
  coinbaseMessage,
  isCoinbaseProductId,
} from './coinbase-wire.ts';
import { bookSnapshot } from './ground-truth.ts';
import {
  parseJson,
  type ConnectionLink,
  type ExchangeProtocol,
  type SimulatorContext,
} from './exchange-protocol.ts';

interface CoinbaseRequest {
  type?: unknown;
  product_ids?: unknown;
  channels?: unknown;
}

type Wanted = { channel: string; product: string }[];

/** The (channel, product) pairs a request names, or the reason Coinbase refuses it. */
function wantedOf(request: CoinbaseRequest, ctx: SimulatorContext): Wanted | string {
  const topProducts = Array.isArray(request.product_ids) ? request.product_ids : [];
  const wanted: Wanted = [];
  for (const entry of Array.isArray(request.channels) ? request.channels : []) {
    const channel = typeof entry === 'string' ? entry : (entry as { name?: unknown })?.name;
    const products =
      typeof entry === 'object' &&
      entry !== null &&
      Array.isArray((entry as { product_ids?: unknown }).product_ids)
        ? (entry as { product_ids: unknown[] }).product_ids
        : topProducts;
    if (typeof channel !== 'string') return 'channel name missing';
    if (COINBASE_CHANNEL_KINDS[channel] === undefined && !COINBASE_SILENT_CHANNELS.includes(channel)) {
      return `${channel} is not a valid channel`;
    }
    for (const product of products) {
      const id = String(product);
      if (!isCoinbaseProductId(id) || ctx.isUnlisted(id.toLowerCase())) return `${id} is not a valid product`;
      wanted.push({ channel, product: id });
    }
  }
  return wanted;
}

/** Subscribes one pair; returns the level2 snapshot to send after `subscriptions`, if any. */
function subscribeOne(
  link: ConnectionLink,
  ctx: SimulatorContext,
  channel: string,
  product: string,
): unknown {
  const symbol = product.toLowerCase();
  const { isNew, source, nextIndex } = link.subscribe(
    `${channel}:${product}`,
    symbol,
    COINBASE_CHANNEL_KINDS[channel],
  );
  if (!isNew || source === undefined) return undefined;
  // Coinbase starts a matches subscription with the product's previous trade as `last_match`
  // (tardis-dev does not map it to a trade); it is not counted as a sent trade.
  if (source.kind === 'trade' && nextIndex > 0) {
    const previous = source.tick(nextIndex - 1);
    if (previous.kind === 'trade') link.reply(coinbaseMatch(previous, 'last_match'));
  }
  // A level2 subscription starts with the whole book, holding every update before the first one sent.
  if (source.kind !== 'bookChange') return undefined;
  const at = ctx.now();
  ctx.recordSnapshot(symbol, nextIndex, at, link.id);
  return coinbaseL2Snapshot(bookSnapshot(source.stream, nextIndex), at);
}

function onRequest(link: ConnectionLink, ctx: SimulatorContext, text: string): void {
  const error = (reason: string) => link.reply({ type: 'error', message: 'Failed to subscribe', reason });
  const request = parseJson(text) as CoinbaseRequest | undefined;
  if (request === undefined) return error('malformed JSON');
  if (request?.type !== 'subscribe' && request?.type !== 'unsubscribe') {
    return error(`${String(request?.type)} is not a valid message type`);
  }
  const wanted = wantedOf(request, ctx);
  if (typeof wanted === 'string') return error(wanted);
  link.countSubscribeRequest();
  const snapshots: unknown[] = [];
  for (const { channel, product } of wanted) {
    if (request.type === 'unsubscribe') link.unsubscribe(`${channel}:${product}`);
    else snapshots.push(subscribeOne(link, ctx, channel, product));
  }
  const byChannel = new Map<string, string[]>();
  for (const name of link.subscriptionNames()) {
    const [channel, product] = name.split(':') as [string, string];
    byChannel.set(channel, [...(byChannel.get(channel) ?? []), product]);
  }
  link.reply({
    type: 'subscriptions',
    channels: [...byChannel.entries()].map(([name, product_ids]) => ({
      name,
      product_ids,
      account_ids: null,
    })),
  });
  for (const snapshot of snapshots) if (snapshot !== undefined) link.reply(snapshot);
}

export const COINBASE_PROTOCOL: ExchangeProtocol = {
  exchange: COINBASE_EXCHANGE,
  wsPath: '/coinbase',
  wsQuery: '',
  open: (link, _url, ctx) => ({
    timeUnit: 'millisecond',
    onMessage: (text) => onRequest(link, ctx, text),
    frame: (tick) => coinbaseMessage(tick),
  }),
  history: {
    channelKinds: COINBASE_TARDIS_CHANNEL_KINDS,
    isSymbol: (s) => s.includes('-'),
    fallbackSymbol: 'btc-usd',
    message: (tick) => coinbaseMessage(tick),
    snapshotChannel: 'snapshot',
    snapshotMessage: (book, at) => coinbaseL2Snapshot(book, at),
  },
};
