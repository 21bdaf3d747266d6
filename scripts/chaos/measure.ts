// What a chaos run measures once the gap-filler has settled: recovery time per fault, the longest span
// not recorded live (from the gap ledger and from the trade ids), backfilled rows and poison handling.
// All from the warehouse and the ledger after the fact, so measuring never disturbs the run.
import { TABLE_FOR_TYPE } from '../../functions/core/contract/schema.ts';
import { streamId } from '../../functions/core/model/streams.ts';
import { mergeIntervals, type Interval } from '../../functions/core/shared/intervals.ts';
import { tickSource, type IdRange } from '../local/exchange/ground-truth.ts';
import {
  groundTruthTradeIdSql,
  isSimulatedExchange,
  PROTOCOLS,
  type SimulatedExchange,
} from '../local/exchange/protocols.ts';
import type { Stack } from '../local/stack.ts';
import { mixStreams } from '../local/stream-mix.ts';
import { rowKey } from '../local/verify-derivative-ticker.ts';
import { expectedSpanTs, type ExpectedStream } from '../local/verify-mix.ts';
import type { FaultRecord } from './faults.ts';

function table(stack: Stack, name: string): string {
  return `\`${stack.projectId}.${stack.topology.dataset}.${name}\``;
}

export interface FaultOutcome extends FaultRecord {
  /**
   * Recovery time: from the fault's end to the earliest `ingested_at` of a live row (raw tables,
   * source = 'live') whose exchange_ts is at or after the fault's end, taken over every stream of the
   * run's mix (all faults here hit every exchange or the whole pipeline) as the slowest stream.
   * null when some stream never recovered.
   */
  readonly rtoMs: number | null;
}

/**
 * Per stream id, the earliest `ingested_at` (ms) of a live row with exchange time at or after `since`:
 * one query per data type's raw table. A stream without such a row is absent.
 */
export async function firstLiveSince(stack: Stack, since: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const type of new Set(stack.streams.flatMap((m) => m.types))) {
    const rows = await stack.warehouse.query<{ exchange: string; symbol: string; t: number }>(
      `SELECT exchange, symbol, MIN(UNIX_MILLIS(ingested_at)) AS t FROM ${table(stack, TABLE_FOR_TYPE[type])} ` +
        `WHERE source = 'live' AND exchange_ts >= @since GROUP BY exchange, symbol`,
      { since: new Date(since) },
    );
    for (const r of rows) out.set(streamId({ exchange: r.exchange, symbol: r.symbol, type }), Number(r.t));
  }
  return out;
}

export async function recoveryTimes(stack: Stack, faults: readonly FaultRecord[]): Promise<FaultOutcome[]> {
  const streams = mixStreams(stack.streams).map(streamId);
  const out: FaultOutcome[] = [];
  for (const fault of faults) {
    const first = await firstLiveSince(stack, fault.end);
    let worst: number | null = 0;
    for (const stream of streams) {
      const t = first.get(stream);
      if (t === undefined) worst = null;
      else if (worst !== null) worst = Math.max(worst, t - fault.end);
    }
    out.push({ ...fault, rtoMs: worst });
  }
  return out;
}

/**
 * The longest coverage hole the gap ledger recorded for any stream (gaps of one stream merged, since a
 * hole can be recorded in pieces), clipped to the run: from `runFrom` to the exchange time of the
 * stream's last tick sent. (Once the ground truth is frozen no message arrives, so the relay's coverage
 * stops at its last message and the time after it becomes a hole too; that hole is not the run's.)
 * This is the run's recovery point objective as the pipeline itself saw it.
 */
export async function ledgerRpo(
  stack: Stack,
  runFrom: number,
  expected: readonly ExpectedStream[],
): Promise<{ rpoMs: number; gaps: number }> {
  const gaps = await stack.ledger.list();
  const lastTs = new Map(expected.map((s) => [streamId(s), expectedSpanTs(stack, s)?.to]));
  const byStream = new Map<string, Interval[]>();
  for (const gap of gaps) {
    const key = streamId(gap.stream);
    const last = lastTs.get(key);
    if (last === undefined) continue;
    const from = Math.max(gap.from, runFrom);
    const to = Math.min(gap.to, last);
    if (to <= from) continue;
    byStream.set(key, [...(byStream.get(key) ?? []), { from, to }]);
  }
  let rpoMs = 0;
  let count = 0;
  for (const intervals of byStream.values()) {
    for (const merged of mergeIntervals(intervals)) {
      rpoMs = Math.max(rpoMs, merged.to - merged.from);
      count++;
    }
  }
  return { rpoMs, gaps: count };
}

/**
 * The longest run of expected trades (of any exchange of the mix) that no live row holds, as the
 * exchange-time span from the first to the last missing trade (ground truth timestamps); 0 when live
 * ingestion missed nothing. Trades, because their ids are contiguous: a missing one is visible.
 */
export async function liveMissingSpan(
  stack: Stack,
  expected: readonly ExpectedStream[],
): Promise<{ spanMs: number; missingLive: number }> {
  const runs = await liveMissingRuns(stack, expected);
  return {
    spanMs: Math.max(0, ...runs.map((r) => r.toTs - r.fromTs)),
    missingLive: runs.reduce((n, r) => n + r.trades, 0),
  };
}

/** A run of consecutive expected trades of one stream that no live row holds, by ground-truth exchange time. */
export interface MissingRun {
  readonly stream: string;
  readonly fromTs: number;
  readonly toTs: number;
  readonly trades: number;
}

/** Every run of expected trades no live row holds (see liveMissingSpan). */
export async function liveMissingRuns(
  stack: Stack,
  expected: readonly ExpectedStream[],
): Promise<MissingRun[]> {
  const out: MissingRun[] = [];
  for (const stream of expected) {
    const range = stream.range;
    if (stream.type !== 'trade' || range === null) continue;
    const { exchange, symbol } = stream;
    const source = tickSource('trade', stack.simulator.groundTruth(symbol, exchange as SimulatedExchange));
    const ts = (id: number) => source.timestampOf(id - 1);
    const params = { exchange, symbol, first: range.firstId, last: range.lastId };
    const tradeId = groundTruthTradeIdSql(exchange);
    const live =
      `FROM ${table(stack, 'trades')} WHERE exchange = @exchange AND symbol = @symbol AND source = 'live' ` +
      `AND ${tradeId} BETWEEN @first AND @last`;
    const runs = await stack.warehouse.query<{ p: number | null; q: number }>(
      `SELECT p, q FROM (SELECT id AS q, LAG(id) OVER (ORDER BY id) AS p FROM (` +
        `SELECT DISTINCT ${tradeId} AS id ${live})) WHERE p IS NULL OR q - p > 1`,
      params,
    );
    const [bounds] = await stack.warehouse.query<{ hi: number | null }>(
      `SELECT MAX(${tradeId}) AS hi ${live}`,
      params,
    );
    const missing: IdRange[] = [];
    for (const run of runs) {
      const q = Number(run.q);
      if (run.p === null) {
        if (q > range.firstId) missing.push({ firstId: range.firstId, lastId: q - 1 });
      } else missing.push({ firstId: Number(run.p) + 1, lastId: q - 1 });
    }
    const hi = bounds?.hi === null || bounds?.hi === undefined ? undefined : Number(bounds.hi);
    if (hi === undefined) missing.push({ firstId: range.firstId, lastId: range.lastId });
    else if (hi < range.lastId) missing.push({ firstId: hi + 1, lastId: range.lastId });
    for (const m of missing) {
      out.push({
        stream: streamId(stream),
        fromTs: ts(m.firstId),
        toTs: ts(m.lastId),
        trades: m.lastId - m.firstId + 1,
      });
    }
  }
  return out;
}

/** Backfilled rows the dedup views serve with exchange time in [from, to), every stream of the run. */
export async function backfilledBetween(
  stack: Stack,
  expected: readonly ExpectedStream[],
  from: number,
  to: number,
): Promise<number> {
  let backfilled = 0;
  for (const stream of expected) backfilled += (await backfilledSpan(stack, stream, from, to)).rows;
  return backfilled;
}

/**
 * One stream's backfilled rows in the dedup view with exchange time in [from, to), and their time range.
 * A derivative ticker's time is the instant its event key names (see tickerRowInstant).
 */
export async function backfilledSpan(
  stack: Stack,
  stream: ExpectedStream,
  from: number,
  to: number,
): Promise<{ rows: number; firstTs: number | null; lastTs: number | null }> {
  if (stream.type === 'derivative_ticker') return backfilledTickerSpan(stack, stream, from, to);
  const [row] = await backfilledQuery<{ b: number; lo: number | null; hi: number | null }>(
    stack,
    stream,
    'COUNT(*) AS b, MIN(UNIX_MILLIS(exchange_ts)) AS lo, MAX(UNIX_MILLIS(exchange_ts)) AS hi',
    from,
    to,
  );
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? null : Number(v));
  return { rows: Number(row?.b ?? 0), firstTs: ms(row?.lo), lastTs: ms(row?.hi) };
}

/** `select` over one stream's backfilled rows in its dedup view with exchange time in [from, to). */
function backfilledQuery<Row>(
  stack: Stack,
  stream: ExpectedStream,
  select: string,
  from: number,
  to: number,
): Promise<Row[]> {
  return stack.warehouse.query<Row>(
    `SELECT ${select} FROM ${table(stack, `${TABLE_FOR_TYPE[stream.type]}_dedup`)} ` +
      `WHERE exchange = @exchange AND symbol = @symbol AND source = 'backfill' ` +
      `AND exchange_ts >= @from AND exchange_ts < @to`,
    { exchange: stream.exchange, symbol: stream.symbol, from: new Date(from), to: new Date(to) },
  );
}

/** Bound on how far a ticker's `exchange_ts` lies from its key's instant (a merged state's last time). */
const TICKER_KEY_SLACK_MS = 60_000;

async function backfilledTickerSpan(
  stack: Stack,
  stream: ExpectedStream,
  from: number,
  to: number,
): Promise<{ rows: number; firstTs: number | null; lastTs: number | null }> {
  const rows = await backfilledQuery<{ row_id: string; ts: number }>(
    stack,
    stream,
    'row_id, UNIX_MILLIS(exchange_ts) AS ts',
    from - TICKER_KEY_SLACK_MS,
    to + TICKER_KEY_SLACK_MS,
  );
  const prefix = `${stream.exchange}:${stream.symbol}:d:`;
  const polled = isSimulatedExchange(stream.exchange)
    ? (PROTOCOLS[stream.exchange].history.polledChannels ?? [])
    : [];
  const instants = rows
    .map((r) => tickerRowInstant(r.row_id, Number(r.ts), prefix, polled))
    .filter((t): t is number => t !== null && t >= from && t < to);
  if (instants.length === 0) return { rows: 0, firstTs: null, lastTs: null };
  return { rows: instants.length, firstTs: Math.min(...instants), lastTs: Math.max(...instants) };
}

/**
 * Where a backfilled derivative ticker row lies in time for the fault windows: at the instant its event
 * key names (the raw message's exchange time), not at its `exchange_ts`: tardis-dev's merged state keeps
 * the last mark or last price time on an OKX funding-rate push or an open interest poll, so a message sent
 * after the frozen ground truth can carry the last sent instant's time. Without a key, its `exchange_ts`.
 * null for a row of a channel the live feed polls (`polled`): the recorder's polls, which no relay was
 * sent, so serving one from history is no evidence of a live loss.
 */
function tickerRowInstant(
  rowId: string,
  exchangeTs: number,
  prefix: string,
  polled: readonly string[],
): number | null {
  const key = rowKey(rowId, prefix);
  if (key === null) return exchangeTs;
  return polled.includes(key.channel) ? null : key.instant;
}

/**
 * Exchange time of the first row of a run the dedup view serves from history that reaches `before` on one
 * stream, starting after `after`: the first backfilled row later than the last live one in (after,
 * before); null when none. Ticks are stamped before they are received, so a hole's first lost tick can lie
 * before the gap the relay's coverage (receive time) records.
 */
export async function historyRunStart(
  stack: Stack,
  stream: ExpectedStream,
  after: number,
  before: number,
): Promise<number | null> {
  const view = table(stack, `${TABLE_FOR_TYPE[stream.type]}_dedup`);
  const where = `WHERE exchange = @exchange AND symbol = @symbol AND exchange_ts > @from AND exchange_ts < @to`;
  const params = { exchange: stream.exchange, symbol: stream.symbol, to: new Date(before) };
  const [live] = await stack.warehouse.query<{ t: number | null }>(
    `SELECT MAX(UNIX_MILLIS(exchange_ts)) AS t FROM ${view} ${where} AND source = 'live'`,
    { ...params, from: new Date(after) },
  );
  const lastLive = live?.t === null || live?.t === undefined ? after : Number(live.t);
  const [first] = await stack.warehouse.query<{ t: number | null }>(
    `SELECT MIN(UNIX_MILLIS(exchange_ts)) AS t FROM ${view} ${where} AND source = 'backfill'`,
    { ...params, from: new Date(lastLive) },
  );
  return first?.t === null || first?.t === undefined ? null : Number(first.t);
}

/** Backfilled rows the dedup views serve within the run (each stream's first to last expected tick). */
export async function backfilledRows(stack: Stack, expected: readonly ExpectedStream[]): Promise<number> {
  let backfilled = 0;
  for (const stream of expected) {
    const span = expectedSpanTs(stack, stream);
    if (span !== null) backfilled += await backfilledBetween(stack, [stream], span.from, span.to + 1);
  }
  return backfilled;
}

/** How many of the published poison messages the quarantine holds, and tick rows they left (must be 0). */
export async function poisonOutcome(
  stack: Stack,
  messageIds: readonly string[],
): Promise<{ published: number; quarantined: number; tickRows: number }> {
  if (messageIds.length === 0) return { published: 0, quarantined: 0, tickRows: 0 };
  const rows = await stack.warehouse.query<{ message_id: string }>(
    `SELECT DISTINCT message_id FROM ${table(stack, 'quarantine')} WHERE message_id IS NOT NULL`,
  );
  const seen = new Set(rows.map((r) => String(r.message_id)));
  const [ticks] = await stack.warehouse.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM ${table(stack, 'trades')} WHERE relay_id = 'chaos-poison'`,
  );
  return {
    published: messageIds.length,
    quarantined: messageIds.filter((id) => seen.has(id)).length,
    tickRows: Number(ticks?.n ?? 0),
  };
}
