// Compares one exchange and data type of a local run with the simulator's ground truth. Trades by their
// contiguous ids (compareTrades); derivative tickers by the exchange time their row key names
// (verify-derivative-ticker.ts); the other types by the ground-truth id when the exchange keys their row
// ids with it (`binance:btcusdt:q:<update id>`), else by exchange time: every tick the ground truth
// holds strictly inside the stream's first and last expected millisecond must be one row of the view.
import { TABLE_FOR_TYPE, dedupViewName } from '../../functions/core/contract/schema.ts';
import type { DataType } from '../../functions/core/model/streams.ts';
import { bookSnapshot, mergeIdRanges, tickSource, type IdRange } from './exchange/ground-truth.ts';
import { groundTruthKeyOffset, type SimulatedExchange } from './exchange/protocols.ts';
import type { Stack } from './stack.ts';
import type { ConnectionRecord } from './exchange/simulator.ts';
import { KIND_OF_TYPE } from './stream-mix.ts';
import { compareTickersByKey } from './verify-derivative-ticker.ts';
import { compareTrades, type TradeComparison } from './verify.ts';
import type { ExpectedStream, StreamTypeCounts } from './verify-mix.ts';

/** The four counts of an exchange and type, and what judging a run needs besides (as compareTrades). */
export interface TypeComparison
  extends StreamTypeCounts,
    Pick<TradeComparison, 'rawDuplicates' | 'unexpected' | 'unexpectedLive'> {}

/** Row id codes of keyed ids by type (functions/core/model/row-id.ts), where the key can be a ground-truth id. */
const KEY_CODE: Partial<Record<DataType, string>> = { book_ticker: 'q', liquidation: 'l' };

/** A live row this far outside a stream's expected times was not received during the run. */
const LIVE_SLACK_MS = 5_000;

/** Compares `streams` (one exchange, one type, any symbols) with the type's dedup view. */
export async function compareStreamType(
  stack: Stack,
  streams: readonly ExpectedStream[],
): Promise<TypeComparison> {
  const { exchange, type } = streams[0]!;
  const { warehouse, projectId } = stack;
  const dataset = stack.topology.dataset;
  if (type === 'trade') {
    const bySymbol = Object.fromEntries(streams.map((s) => [s.symbol, s.range === null ? [] : [s.range]]));
    const c = await compareTrades(warehouse, projectId, dataset, exchange, bySymbol);
    return { exchange, type, ...c };
  }
  const table = TABLE_FOR_TYPE[type];
  let sent = 0;
  let stored = 0;
  let surplus = 0;
  let unexpected = 0;
  let unexpectedLive = 0;
  for (const stream of streams) {
    const c = await compareStream(stack, stream);
    sent += c.sent;
    stored += c.stored;
    surplus += c.surplus;
    unexpected += c.unexpected;
    unexpectedLive += c.unexpectedLive;
  }
  const dups = async (name: string) => {
    const [row] = await warehouse.query<{ n: number }>(
      `SELECT COUNT(*) - COUNT(DISTINCT row_id) AS n FROM \`${projectId}.${dataset}.${name}\` WHERE exchange = @exchange`,
      { exchange },
    );
    return Number(row?.n ?? 0);
  };
  // A surplus inside the expected span is one event stored under two ids: a duplicate for a data user.
  const duplicates = (await dups(dedupViewName(table))) + surplus;
  return {
    exchange,
    type,
    sent,
    stored,
    missing: sent - stored,
    duplicates,
    rawDuplicates: await dups(table),
    unexpected,
    unexpectedLive,
  };
}

interface StreamCounts {
  sent: number;
  /** Expected ticks the view holds (at most `sent`). */
  stored: number;
  /** Rows beyond the expected ones inside the span: one event stored under two ids. */
  surplus: number;
  unexpected: number;
  unexpectedLive: number;
}

/**
 * One stream: a derivative ticker by its row key, else by ground-truth id when every row of it is keyed
 * with one, else by exchange time.
 */
async function compareStream(stack: Stack, stream: ExpectedStream): Promise<StreamCounts> {
  const range = stream.range;
  if (range === null) return { sent: 0, stored: 0, surplus: 0, unexpected: 0, unexpectedLive: 0 };
  if (stream.type === 'derivative_ticker') return compareTickersByKey(stack, stream, LIVE_SLACK_MS);
  const truth = stack.simulator.groundTruth(stream.symbol, stream.exchange as SimulatedExchange);
  const source = tickSource(KIND_OF_TYPE[stream.type], truth);
  const firstTs = source.timestampOf(range.firstId - 1);
  const lastTs = source.timestampOf(range.lastId - 1);
  // Whole milliseconds strictly inside the span: a tick sharing the first or the last one's millisecond
  // may not have been sent (the subscription began, or the ground truth froze, within that millisecond).
  const from = firstTs + 1;
  const to = lastTs;
  const prefix = `${stream.exchange}:${stream.symbol}:${KEY_CODE[stream.type] ?? '-'}:`;
  const keyOf = `SAFE_CAST(SUBSTR(row_id, @plen) AS INT64) - @keyOffset`;
  const inIds = `(STARTS_WITH(row_id, @prefix) AND ${keyOf} BETWEEN @first AND @last)`;
  const inTime = `(exchange_ts >= @from AND exchange_ts < @to)`;
  const view = `\`${stack.projectId}.${stack.topology.dataset}.${dedupViewName(TABLE_FOR_TYPE[stream.type])}\``;
  const [row] = await stack.warehouse.query<Record<string, number>>(
    `SELECT COUNT(*) AS total, COUNTIF(STARTS_WITH(row_id, @prefix) AND ${keyOf} IS NOT NULL) AS keyed, ` +
      `COUNTIF(${inIds}) AS in_ids, COUNTIF(source = 'live' AND NOT ${inIds}) AS live_out_ids, ` +
      `COUNTIF(${inTime}) AS in_time, ` +
      `COUNTIF(source = 'live' AND (exchange_ts < @liveFrom OR exchange_ts >= @liveTo)) AS live_out_time ` +
      `FROM ${view} WHERE exchange = @exchange AND symbol = @symbol` +
      (stream.type === 'book_change' ? ' AND NOT is_snapshot' : ''),
    {
      exchange: stream.exchange,
      symbol: stream.symbol,
      prefix,
      plen: prefix.length + 1,
      keyOffset: groundTruthKeyOffset(stream.exchange, stream.type),
      first: range.firstId,
      last: range.lastId,
      from: new Date(from),
      to: new Date(to),
      liveFrom: new Date(firstTs - LIVE_SLACK_MS),
      liveTo: new Date(lastTs + LIVE_SLACK_MS),
    },
  );
  const n = (key: string) => Number(row?.[key] ?? 0);
  if (n('total') > 0 && n('keyed') === n('total')) {
    const sent = range.lastId - range.firstId + 1;
    return {
      sent,
      stored: n('in_ids'),
      surplus: 0,
      unexpected: n('total') - n('in_ids'),
      unexpectedLive: n('live_out_ids'),
    };
  }
  const firstIndex = source.indexAtOrAfter(from);
  const endIndex = source.indexAtOrAfter(to);
  // An order book update folded into a snapshot is held by the snapshot row; backfilled, it is a row too.
  const folded = await foldedIntoSnapshots(stack, stream, { firstId: firstIndex + 1, lastId: endIndex });
  const sent = Math.max(0, endIndex - firstIndex);
  return {
    sent,
    stored: Math.min(sent, n('in_time') + folded),
    surplus: Math.max(0, n('in_time') - sent),
    unexpected: n('total') - n('in_time'),
    unexpectedLive: n('live_out_time'),
  };
}

/**
 * Order book updates the simulator sent that the normalizer folds into a snapshot instead of emitting:
 * on a connection, those up to the snapshot it was handed (Binance's REST depth, fetched after the
 * subscription), counted within `within`. The snapshot row holds them; a backfill of the time before the
 * snapshot (coverage opens with it) may store them as rows as well. tardis-dev also applies to a REST
 * snapshot the updates it buffered until the snapshot arrived (those after its lastUpdateId too) and
 * emits them only inside the snapshot row: the row (received after the snapshot was taken) then holds
 * every update up to the newest id, sent before the row's receive time, whose ground-truth book equals
 * the row's levels (a level a buffered update removed stays in the row with amount 0).
 */
async function foldedIntoSnapshots(stack: Stack, stream: ExpectedStream, within: IdRange): Promise<number> {
  if (stream.type !== 'book_change') return 0;
  const connections = stack.simulator.connections().filter((c) => c.exchange === stream.exchange);
  const snapshots = stack.simulator
    .bookSnapshots()
    .filter((s) => s.exchange === stream.exchange && s.symbol === stream.symbol);
  const rows =
    snapshots.length === 0
      ? []
      : await stack.warehouse.query<SnapshotRow>(
          `SELECT UNIX_MILLIS(exchange_ts) AS at, UNIX_MILLIS(local_ts) AS received, bids, asks ` +
            `FROM \`${stack.projectId}.${stack.topology.dataset}.${dedupViewName(TABLE_FOR_TYPE[stream.type])}\` ` +
            `WHERE exchange = @exchange AND symbol = @symbol AND is_snapshot`,
          { exchange: stream.exchange, symbol: stream.symbol },
        );
  const truth = stack.simulator.groundTruth(stream.symbol, stream.exchange as SimulatedExchange);
  const source = tickSource('bookChange', truth);
  const folded: IdRange[] = [];
  const restOwner = restSnapshotOwner(connections, stream.symbol);
  for (const snapshot of [...snapshots].sort((a, b) => a.at - b.at)) {
    const connection =
      snapshot.connectionId === null
        ? restOwner(snapshot.at)
        : connections.find((c) => c.id === snapshot.connectionId);
    const first = connection?.bookChanges[stream.symbol]?.[0]?.firstId;
    let last = snapshot.lastUpdateId;
    if (snapshot.connectionId === null) {
      // Its row: stamped with the snapshot's time (futures' `T`), else with its receive time (spot).
      const received = (r: SnapshotRow) => Number(r.received) - snapshot.at;
      for (const row of rows.filter((r) => received(r) >= 0 && received(r) <= LIVE_SLACK_MS)) {
        const sentBefore = source.indexAtOrAfter(Number(row.received) + 1);
        for (let id = sentBefore; id > last; id--) {
          if (sameBook(bookSnapshot(truth, id), row)) {
            last = id;
            break;
          }
        }
      }
    }
    if (first !== undefined && first <= last) {
      folded.push({ firstId: Math.max(first, within.firstId), lastId: Math.min(last, within.lastId) });
    }
  }
  return mergeIdRanges(folded.filter((r) => r.lastId >= r.firstId)).reduce(
    (n, r) => n + r.lastId - r.firstId + 1,
    0,
  );
}

/**
 * Who fetched a REST snapshot (it names no connection): each connection receiving the symbol's book fetches
 * one after subscribing, so in time order a snapshot belongs to the earliest-opened such connection open at
 * its time that has none yet (several are open at once in a relay fleet), else the newest open one.
 */
function restSnapshotOwner(
  connections: readonly ConnectionRecord[],
  symbol: string,
): (at: number) => ConnectionRecord | undefined {
  const owners = new Set<number>();
  return (at) => {
    const open = connections.filter(
      (c) =>
        c.openedAt <= at &&
        (c.closedAt === null || c.closedAt >= at) &&
        (c.bookChanges[symbol]?.length ?? 0) > 0,
    );
    const owner = open.find((c) => !owners.has(c.id)) ?? open.at(-1);
    if (owner) owners.add(owner.id);
    return owner;
  };
}

interface SnapshotRow {
  at: number;
  received: number;
  bids: readonly { price: number; amount: number }[] | null;
  asks: readonly { price: number; amount: number }[] | null;
}

/** Whether a stored snapshot row's levels (amount 0: absent) are the ground-truth book's. */
function sameBook(book: ReturnType<typeof bookSnapshot>, row: SnapshotRow): boolean {
  const side = (levels: readonly { price: number; amount: number }[] | null, truth: typeof book.bids) => {
    const stored = new Map(
      (levels ?? []).filter((l) => Number(l.amount) !== 0).map((l) => [Number(l.price), Number(l.amount)]),
    );
    return stored.size === truth.length && truth.every(([p, a]) => stored.get(Number(p)) === Number(a));
  };
  return side(row.bids, book.bids) && side(row.asks, book.asks);
}
