/**
 * What Bybit's v5 public linear websocket answers to a client request, as tardis-dev 13.35.3 uses it. Pure.
 *
 * tardis-dev sends `{"op":"subscribe","args":["publicTrade.BTCUSDT",...]}` (at most ten topics each) right
 * after connecting and `{"op":"ping"}` every 5 s; it counts an answer with `ret_msg` "pong" as a heartbeat and
 * throws on one with `success: false`. Bybit answers each request once, echoing `req_id` (empty when the
 * client sent none). A subscribe naming a topic Bybit does not serve (an unlisted symbol included) is
 * refused whole: `{"success":false,"ret_msg":"error:handler not found,topic:publicTrade.XYZUSDT",...}`, and
 * none of its topics is subscribed; so is one naming a topic the connection already has.
 */
import { BYBIT_CHANNEL_KINDS, isBybitLinearSymbol, parseBybitTopic } from './bybit-wire.ts';
import type { TickKind } from './ground-truth.ts';

/** A topic of a request: `orderbook.50.BTCUSDT` -> channel, lower-case symbol, ground-truth kind. */
export interface BybitTopic {
  readonly topic: string;
  readonly channel: string;
  readonly symbol: string;
  /** undefined: a topic Bybit serves that carries no ground-truth data here (accepted, silent). */
  readonly kind: TickKind | undefined;
}

/** What the simulator knows when it answers: the connection, what the exchange lists and what it has. */
export interface BybitRequestContext {
  readonly connId: string;
  /** Whether Bybit lists this (lower-case, linear-shaped) symbol. */
  readonly isListed: (symbol: string) => boolean;
  /** Topics this connection is subscribed to. */
  readonly subscribed: ReadonlySet<string>;
  /** Topic prefixes Bybit serves without ground-truth data here (e.g. `tickers`); default none. */
  readonly silentChannels?: readonly string[];
}

/** The answer to send, and the topics to add or remove (none when the request is refused). */
export interface BybitReply {
  readonly answer: Readonly<Record<string, unknown>>;
  readonly subscribe: readonly BybitTopic[];
  readonly unsubscribe: readonly BybitTopic[];
}

const NOTHING = { subscribe: [], unsubscribe: [] } as const;

/** The topic parsed, or why Bybit would not serve it. */
function readTopic(arg: unknown, context: BybitRequestContext): { topic: BybitTopic } | { refused: string } {
  const text = typeof arg === 'string' ? arg : JSON.stringify(arg);
  const parsed = typeof arg === 'string' ? parseBybitTopic(arg) : undefined;
  const served =
    parsed !== undefined &&
    (Object.hasOwn(BYBIT_CHANNEL_KINDS, parsed.channel) ||
      (context.silentChannels ?? []).includes(parsed.channel)) &&
    isBybitLinearSymbol(parsed.symbol) &&
    context.isListed(parsed.symbol.toLowerCase());
  if (!served) return { refused: `error:handler not found,topic:${text}` };
  const kind = Object.hasOwn(BYBIT_CHANNEL_KINDS, parsed.channel)
    ? BYBIT_CHANNEL_KINDS[parsed.channel]
    : undefined;
  return { topic: { topic: text, channel: parsed.channel, symbol: parsed.symbol.toLowerCase(), kind } };
}

/** Bybit's answer to one text frame from the client. */
export function answerBybitRequest(text: string, context: BybitRequestContext): BybitReply {
  const base = (op: unknown, reqId: unknown) => ({
    conn_id: context.connId,
    req_id: typeof reqId === 'string' ? reqId : '',
    op: typeof op === 'string' ? op : '',
  });
  let request: { op?: unknown; args?: unknown; req_id?: unknown };
  try {
    request = JSON.parse(text) as typeof request;
    if (typeof request !== 'object' || request === null) throw new Error('not an object');
  } catch {
    return { answer: { success: false, ret_msg: 'error:request not json', ...base('', '') }, ...NOTHING };
  }
  const meta = base(request.op, request.req_id);
  if (request.op === 'ping') return { answer: { success: true, ret_msg: 'pong', ...meta }, ...NOTHING };
  if (request.op !== 'subscribe' && request.op !== 'unsubscribe') {
    return {
      answer: { success: false, ret_msg: `error:invalid op ${String(request.op)}`, ...meta },
      ...NOTHING,
    };
  }
  const args = Array.isArray(request.args) ? request.args : [];
  if (args.length === 0)
    return { answer: { success: false, ret_msg: 'error:args empty', ...meta }, ...NOTHING };
  const topics: BybitTopic[] = [];
  for (const arg of args) {
    const read = readTopic(arg, context);
    if ('refused' in read) return { answer: { success: false, ret_msg: read.refused, ...meta }, ...NOTHING };
    const already =
      context.subscribed.has(read.topic.topic) || topics.some((t) => t.topic === read.topic.topic);
    if (request.op === 'subscribe' && already) {
      const ret_msg = `error:already subscribed,topic:${read.topic.topic}`;
      return { answer: { success: false, ret_msg, ...meta }, ...NOTHING };
    }
    topics.push(read.topic);
  }
  const answer = { success: true, ret_msg: '', ...meta };
  return request.op === 'subscribe'
    ? { answer, subscribe: topics, unsubscribe: [] }
    : { answer, subscribe: [], unsubscribe: topics };
}
