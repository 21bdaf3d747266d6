/**
 * Bybit's v5 public linear websocket as tardis-dev 13.35.3 uses it, on `/v5/public/linear` (the path of
 * wss://stream.bybit.com/v5/public/linear): requests are answered by bybit-requests.ts (subscribe acks, a
 * refusal of the whole batch for an unlisted symbol, pongs). After the ack, each new `orderbook.50` topic
 * gets the whole book as a `snapshot` (every update before the first delta sent); on `orderbook.1` and
 * `tickers` the connection's first message of a symbol is a `snapshot`, the rest `delta`s. tardis-dev makes
 * no REST call (open interest and funding come in `tickers`).
 */
import { answerBybitRequest } from './bybit-requests.ts';
import {
  BYBIT_CHANNEL_KINDS,
  BYBIT_SEQ_OFFSET,
  BYBIT_EXCHANGE,
  bybitBookSnapshot,
  bybitMessage,
  bybitOpeningMessage,
  isBybitLinearSymbol,
} from './bybit-wire.ts';
import { bookSnapshot, type Tick } from './ground-truth.ts';
import type {
  ConnectionLink,
  ExchangeProtocol,
  ProtocolSession,
  SimulatorContext,
} from './exchange-protocol.ts';

/** Topics Bybit serves that carry no ground-truth data here: accepted, silent. */
const SILENT_CHANNELS = ['liquidation', 'orderbook.200'];

function openSession(link: ConnectionLink, ctx: SimulatorContext): ProtocolSession {
  const connId = `sim-bybit-${link.id}`;
  /** `<kind>|<symbol>` of the streams that sent their opening snapshot on this connection. */
  const opened = new Set<string>();
  const onMessage = (text: string): void => {
    const reply = answerBybitRequest(text, {
      connId,
      isListed: (symbol) => !ctx.isUnlisted(symbol),
      subscribed: new Set(link.subscriptionNames()),
      silentChannels: SILENT_CHANNELS,
    });
    if (reply.answer.op === 'subscribe') link.countSubscribeRequest();
    const snapshots: unknown[] = [];
    for (const topic of reply.subscribe) {
      const { isNew, source, nextIndex } = link.subscribe(topic.topic, topic.symbol, topic.kind);
      if (!isNew || source === undefined || source.kind !== 'bookChange') continue;
      const at = ctx.now();
      ctx.recordSnapshot(topic.symbol, nextIndex, at, link.id);
      snapshots.push(bybitBookSnapshot(bookSnapshot(source.stream, nextIndex), at));
    }
    for (const topic of reply.unsubscribe) {
      link.unsubscribe(topic.topic);
      opened.delete(`${topic.kind}|${topic.symbol}`);
    }
    link.reply(reply.answer);
    for (const snapshot of snapshots) link.reply(snapshot);
  };
  const frame = (tick: Tick): unknown => {
    const stream = `${tick.kind}|${tick.symbol}`;
    if (opened.has(stream)) return bybitMessage(tick);
    opened.add(stream);
    return bybitOpeningMessage(tick);
  };
  return { timeUnit: 'millisecond', onMessage, frame };
}

export const BYBIT_PROTOCOL: ExchangeProtocol = {
  // A Bybit trade id is a UUID whose last group is the ground-truth id in hex (bybitTradeId).
  tradeIdSql: `CAST(CONCAT('0x', SUBSTR(trade_id, 25)) AS INT64)`,
  rowKeyOffsets: { book_ticker: BYBIT_SEQ_OFFSET }, // quotes are keyed by seq (bybitSeq)
  exchange: BYBIT_EXCHANGE,
  wsPath: '/v5/public/linear',
  wsQuery: '',
  open: (link, _url, ctx) => openSession(link, ctx),
  history: {
    channelKinds: BYBIT_CHANNEL_KINDS,
    isSymbol: (s) => isBybitLinearSymbol(s.toUpperCase()),
    fallbackSymbol: 'btcusdt',
    message: (tick) => bybitMessage(tick),
    // The recorder's snapshot is an `orderbook.50` message like the deltas (history-server.ts).
    snapshotChannel: 'orderbook.50',
    snapshotMessage: (book, at) => bybitBookSnapshot(book, at),
    firstMessage: (tick) => bybitOpeningMessage(tick),
  },
};
