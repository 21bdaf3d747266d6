// Per-tick counts of a measured run, scaled to the reference deployment, and their dollars.
import type { RunCounts } from './measure.ts';
import { PRICES, WRITER_GIB_PER_VCPU } from './prices.ts';

export interface Reference {
  readonly streams: number;
  readonly ticksPerSecond: number;
  readonly historyDays: number;
  /** Gap-filler runs per month (Cloud Scheduler, every minute). */
  readonly gapfillRunsPerMonth: number;
  /**
   * Checkpoint group documents of the reference's streams (exchanges x types x GROUP_BUCKETS: ~6 x 5 x 4):
   * the grouped layout's writes per second follow them, not ticks.
   */
  readonly checkpointGroups: number;
  /**
   * Open v4 bundles at the reference (fleet shards, or relays outside a fleet): pushes follow them and their
   * cut rule (bundle-cuts.ts), not ticks (decisions/0026).
   */
  readonly bundlers: number;
}

/** What a design's Pub/Sub messages follow, in the run and at the reference: bundles (v4) or streams (v3). */
export interface MessageSources {
  readonly local: number;
  readonly reference: number;
  /**
   * Messages per second per source at the reference when its cut rule is modelled (v4: bundle-cuts.ts);
   * absent, each source sends as many per second as the run's did (v3: each stream's batch timer).
   */
  readonly perSecond?: number;
}

/** Checkpoint documents the run's writers wrote and the reference's would (docs/COST.md, "Firestore"). */
export interface CheckpointDocs {
  readonly local: number;
  readonly reference: number;
}

export const SECONDS_PER_MONTH = 30 * 86_400;

/** Billed units per tick. */
export interface PerTick {
  pubsub_publish_requests: number;
  pubsub_publish_billable_bytes: number;
  push_deliveries: number;
  pubsub_push_billable_bytes: number;
  writer_cpu_s: number;
  bq_insert_all_billable_bytes: number;
  bq_storage_write_billable_bytes: number;
  bq_query_bytes: number;
  firestore_reads: number;
  firestore_writes: number;
  firestore_deletes: number;
  gapfill_requests: number;
  gapfill_cpu_s: number;
  history_calls: number;
}

/**
 * Counts per tick at the reference: the run's per-tick rates plus the gap-filler's per-run use spread over a
 * month's ticks. Firestore is scaled by what its operations follow, not by ticks: the live run's by
 * checkpoint documents per second (each written at most once per coalescing interval, with one
 * transaction read), the gap-filler's by streams (one ledger query per stream and run). Publish requests
 * and pushes follow what cuts messages: streams (v3, at the run's rate) or open bundles (v4, at the rate
 * their cut rule gives at the reference, one message per publish request).
 */
export function perTick(
  run: RunCounts,
  queryBytesPerRun: number,
  ref: Reference,
  docs: CheckpointDocs,
  sources: MessageSources,
): PerTick {
  const t = run.ticks;
  if (t <= 0) throw new Error('cost bench: the relay published no tick');
  const monthTicks = ref.ticksPerSecond * SECONDS_PER_MONTH;
  const perRun = ref.gapfillRunsPerMonth / monthTicks;
  const g = run.gapfillRun;
  const live = docs.reference / docs.local / run.seconds / ref.ticksPerSecond;
  const runScale = (perRun * ref.streams) / run.streams;
  // Messages per second follow their sources (each cut by its wait or batch timer), bytes follow ticks.
  const messages = sources.reference / sources.local / run.seconds / ref.ticksPerSecond;
  const modelled =
    sources.perSecond === undefined
      ? undefined
      : (sources.reference * sources.perSecond) / ref.ticksPerSecond;
  return {
    pubsub_publish_requests: modelled ?? run.publish.requests * messages,
    pubsub_publish_billable_bytes: run.publish.billableBytes / t,
    push_deliveries: modelled ?? run.push.deliveries * messages,
    pubsub_push_billable_bytes: run.push.billableBytes / t,
    writer_cpu_s: run.writerCpuSeconds / t,
    // The gap-filler's own inserts are in the run's ingestion (a steady-state run inserts nothing).
    bq_insert_all_billable_bytes: run.ingestion.insertAll.billableBytes / t,
    bq_storage_write_billable_bytes: run.ingestion.storageWrite.billableBytes / t,
    bq_query_bytes: queryBytesPerRun * perRun,
    firestore_reads: run.firestore.reads * live + g.firestore.reads * runScale,
    firestore_writes: run.firestore.writes * live + g.firestore.writes * runScale,
    firestore_deletes: run.firestore.deletes * live + g.firestore.deletes * runScale,
    gapfill_requests: perRun,
    gapfill_cpu_s: g.cpuSeconds * perRun,
    history_calls: g.historyCalls * perRun,
  };
}

/** Dollars per tick, by service. */
export function usdPerTick(c: PerTick): Record<string, number> {
  const cpu = PRICES.cloudRunVcpuSecond.usd + WRITER_GIB_PER_VCPU * PRICES.cloudRunGibSecond.usd;
  return {
    pubsub:
      (c.pubsub_publish_billable_bytes + c.pubsub_push_billable_bytes) * PRICES.pubsubThroughputPerByte.usd,
    cloud_run:
      (c.push_deliveries + c.gapfill_requests) * PRICES.cloudRunRequest.usd +
      c.writer_cpu_s * cpu +
      c.gapfill_cpu_s * (PRICES.cloudRunVcpuSecond.usd + PRICES.cloudRunGibSecond.usd),
    bigquery_ingestion:
      c.bq_insert_all_billable_bytes * PRICES.bigqueryInsertAllPerByte.usd +
      c.bq_storage_write_billable_bytes * PRICES.bigqueryStorageWritePerByte.usd,
    bigquery_queries: c.bq_query_bytes * PRICES.bigqueryQueryPerByte.usd,
    firestore:
      c.firestore_reads * PRICES.firestoreRead.usd +
      c.firestore_writes * PRICES.firestoreWrite.usd +
      c.firestore_deletes * PRICES.firestoreDelete.usd,
    history: c.history_calls * PRICES.tardisHistoryCall.usd,
  };
}

/** The modelled anchor: the relays publish one JSON message per tick to a topic with a BigQuery subscription. */
export interface AnchorPerTick {
  message_bytes: number;
  messages_per_publish_request: number;
  pubsub_publish_billable_bytes: number;
  bq_subscription_bytes: number;
}

/** Pub/Sub message ids in production are about this long (the emulator's are shorter). */
const MESSAGE_ID_BYTES = 17;

export function anchorPerTick(tickJsonBytes: number, ref: Reference): AnchorPerTick {
  // The relay's publisher sends at most 100 messages or what 5 ms bring (DEFAULT_PUBLISHER_OPTIONS).
  const perRequest = Math.max(1, Math.min(100, ref.ticksPerSecond * 0.005));
  const message = tickJsonBytes + 20 + MESSAGE_ID_BYTES;
  return {
    message_bytes: message,
    messages_per_publish_request: perRequest,
    pubsub_publish_billable_bytes: Math.max(1000, perRequest * message) / perRequest,
    bq_subscription_bytes: message,
  };
}

export function anchorUsdPerTick(a: AnchorPerTick): Record<string, number> {
  return {
    pubsub: a.pubsub_publish_billable_bytes * PRICES.pubsubThroughputPerByte.usd,
    bigquery_subscription: a.bq_subscription_bytes * PRICES.pubsubBigQuerySubscriptionPerByte.usd,
  };
}

export const sum = (parts: Record<string, number>): number => Object.values(parts).reduce((a, b) => a + b, 0);
