import { microsToIso, type Tick } from '../model/tick.ts';
import type { Batch, Window } from './batch.ts';
import type { StreamKey } from '../model/streams.ts';

export interface IngestionMeta {
  readonly ingestedAt: number;
  readonly source: 'live' | 'backfill';
  readonly relayId: string | null;
  readonly batchId: string;
}

/** The warehouse row of a tick, shaped by the schema in schema.ts. */
export function tickToRow(tick: Tick, rowId: string, meta: IngestionMeta): Record<string, unknown> {
  const common = {
    row_id: rowId,
    exchange: tick.exchange,
    symbol: tick.symbol,
    exchange_ts: microsToIso(tick.ts),
    local_ts: microsToIso(tick.localTs),
    ingested_at: isoMillis(meta.ingestedAt),
    source: meta.source,
    relay_id: meta.relayId,
    batch_id: meta.batchId,
  };
  switch (tick.type) {
    case 'trade':
      return {
        ...common,
        trade_id: tick.id ?? null,
        price: tick.price,
        amount: tick.amount,
        side: tick.side,
      };
    case 'book_ticker':
      return {
        ...common,
        bid_price: tick.bidPrice ?? null,
        bid_amount: tick.bidAmount ?? null,
        ask_price: tick.askPrice ?? null,
        ask_amount: tick.askAmount ?? null,
      };
    case 'book_change':
      return {
        ...common,
        is_snapshot: tick.isSnapshot,
        bids: tick.bids.map((l) => ({ price: l.price, amount: l.amount })),
        asks: tick.asks.map((l) => ({ price: l.price, amount: l.amount })),
      };
    case 'derivative_ticker':
      return {
        ...common,
        last_price: tick.lastPrice ?? null,
        open_interest: tick.openInterest ?? null,
        funding_rate: tick.fundingRate ?? null,
        funding_ts: tick.fundingTs === undefined ? null : microsToIso(tick.fundingTs),
        predicted_funding_rate: tick.predictedFundingRate ?? null,
        index_price: tick.indexPrice ?? null,
        mark_price: tick.markPrice ?? null,
      };
    case 'liquidation':
      return {
        ...common,
        liquidation_id: tick.id ?? null,
        price: tick.price,
        amount: tick.amount,
        side: tick.side,
      };
  }
}

let lastMillis = NaN;
let lastIso = '';
/** ISO text of a millisecond time; every row of a batch shares one, so the last is remembered. */
function isoMillis(ms: number): string {
  if (ms !== lastMillis) {
    lastIso = new Date(ms).toISOString();
    lastMillis = ms;
  }
  return lastIso;
}

/** The coverage row of a batch: proof that its stream was listened to during the window. */
export function coverageRow(
  batch: Batch,
  batchId: string,
  source: 'live' | 'backfill',
  committedAt: number,
): Record<string, unknown> {
  return coverageRowFor(
    batch.stream,
    batch.window,
    batchId,
    batch.ticks.length,
    source,
    batch.relayId,
    committedAt,
  );
}

/** A coverage row from its parts (the gap-filler commits coverage without a relay batch). */
export function coverageRowFor(
  stream: StreamKey,
  window: Window,
  batchId: string,
  rows: number,
  source: 'live' | 'backfill',
  relayId: string | null,
  committedAt: number,
): Record<string, unknown> {
  return {
    batch_id: batchId,
    exchange: stream.exchange,
    symbol: stream.symbol,
    data_type: stream.type,
    window_from: new Date(window.from).toISOString(),
    window_to: new Date(window.to).toISOString(),
    rows,
    source,
    relay_id: relayId,
    committed_at: new Date(committedAt).toISOString(),
  };
}
