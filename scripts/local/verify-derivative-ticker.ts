// Compares one derivative ticker stream of a local run with the ground truth by row key, not by exchange
// time: tardis-dev stamps a ticker with its receive time whenever the message that changed it carries no
// newer exchange time (the first one after a connect, an open interest poll), so its `exchange_ts` may
// sit between two ground-truth instants. The row key (`d:<channel>:<time>`, decisions/0024) names the
// raw message and its exchange time, which the simulator sets to the ground-truth instant on every wire.
import { dedupViewName, TABLE_FOR_TYPE } from '../../functions/core/contract/schema.ts';
import { tickSource } from './exchange/ground-truth.ts';
import type { SimulatedExchange } from './exchange/protocols.ts';
import type { Stack } from './stack.ts';
import type { ExpectedStream } from './verify-mix.ts';

/** What one stream's comparison counts (verify-type.ts adds them up per exchange). */
export interface KeyedStreamCounts {
  /** Ground-truth instants from the first to the last one sent (timestamps strictly increase per stream). */
  readonly sent: number;
  /** Those instants with at least one row keyed by them (each channel that carries one is a row). */
  readonly stored: number;
  /**
   * Rows that are not an event of the ground truth inside the span: a key naming no instant of it, or no
   * key at all (a content-hashed ticker could be a keyed one stored again under another id).
   */
  readonly surplus: number;
  /** Rows keyed outside the span (the gap-filler's tail after the freeze, the history before the start). */
  readonly unexpected: number;
  /** Live rows keyed more than `slackMs` outside the span: not received during the run. */
  readonly unexpectedLive: number;
}

interface TickerRow {
  row_id: string;
  source: string;
}

/** `binance-futures:btcusdt:d:markPrice:1597536008000` -> 1597536008000; null: no event key. */
export function keyedInstant(rowId: string, prefix: string): number | null {
  return rowKey(rowId, prefix)?.instant ?? null;
}

/** The channel and the instant a derivative ticker's event key names (`markPrice`, 1597536008000); null: none. */
export function rowKey(rowId: string, prefix: string): { channel: string; instant: number } | null {
  if (!rowId.startsWith(prefix)) return null;
  const match = /^([^:]+):(\d{1,16})(?::|$)/.exec(rowId.slice(prefix.length));
  return match === null ? null : { channel: match[1]!, instant: Number(match[2]) };
}

/** Compares the rows of `stream` (a derivative ticker stream with a non-null range) with the ground truth. */
export async function compareTickersByKey(
  stack: Stack,
  stream: ExpectedStream,
  slackMs: number,
): Promise<KeyedStreamCounts> {
  const range = stream.range!;
  const truth = stack.simulator.groundTruth(stream.symbol, stream.exchange as SimulatedExchange);
  const source = tickSource('derivativeTicker', truth);
  const instants = new Set<number>();
  for (let id = range.firstId; id <= range.lastId; id++) instants.add(source.timestampOf(id - 1));
  const firstTs = source.timestampOf(range.firstId - 1);
  const lastTs = source.timestampOf(range.lastId - 1);
  const view = `\`${stack.projectId}.${stack.topology.dataset}.${dedupViewName(TABLE_FOR_TYPE[stream.type])}\``;
  // A stream's tickers are a few per second: the run's rows fit in memory.
  const rows = await stack.warehouse.query<TickerRow>(
    `SELECT row_id, source FROM ${view} WHERE exchange = @exchange AND symbol = @symbol`,
    { exchange: stream.exchange, symbol: stream.symbol },
  );
  const prefix = `${stream.exchange}:${stream.symbol}:d:`;
  const found = new Set<number>();
  let surplus = 0;
  let unexpected = 0;
  let unexpectedLive = 0;
  for (const row of rows) {
    const at = keyedInstant(row.row_id, prefix);
    if (at !== null && instants.has(at)) found.add(at);
    else if (at === null || (at >= firstTs && at <= lastTs)) surplus++;
    else {
      unexpected++;
      if (row.source === 'live' && (at < firstTs - slackMs || at > lastTs + slackMs)) unexpectedLive++;
    }
  }
  return { sent: instants.size, stored: found.size, surplus, unexpected, unexpectedLive };
}
