// List prices the cost bench turns counts into dollars with: US multi-region / Tier 1 regions, on-demand,
// free tiers NOT subtracted (they are per billing account, not per tick; docs/COST.md says what they
// would take off). Read on the date below from the pages named; check them before quoting a figure.

const TIB = 2 ** 40;
const GIB = 2 ** 30;

export interface Price {
  /** Dollars per unit. */
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
}

export const PRICES_READ_ON = '2026-12-07';

export const PRICES = {
  /** Publish and push/pull delivery volume; at least 1,000 B per request. */
  pubsubThroughputPerByte: {
    usd: 40 / TIB,
    unit: 'byte of message data volume (data + attributes + 20 B + message id)',
    source: 'https://cloud.google.com/pubsub/pricing (Message Delivery Basic, $40 per TiB)',
  },
  /** A BigQuery subscription's throughput, charged instead of a subscriber's delivery. */
  pubsubBigQuerySubscriptionPerByte: {
    usd: 50 / TIB,
    unit: 'byte written by a BigQuery subscription',
    source: 'https://cloud.google.com/pubsub/pricing (BigQuery subscriptions, $50 per TiB)',
  },
  /** Legacy streaming: every row billed as at least 1 KB. */
  bigqueryInsertAllPerByte: {
    usd: 0.01 / (200 * 2 ** 20),
    unit: 'billable byte (rows at least 1,024 B)',
    source:
      'https://cloud.google.com/bigquery/pricing (streaming inserts, $0.01 per 200 MB, 1 KB minimum row)',
  },
  bigqueryStorageWritePerByte: {
    usd: 0.025 / GIB,
    unit: 'byte of serialized rows',
    source:
      'https://cloud.google.com/bigquery/pricing (Storage Write API, $0.025 per GiB; first 2 TiB a month free)',
  },
  bigqueryQueryPerByte: {
    usd: 6.25 / TIB,
    unit: 'byte processed (at least 10 MiB per table referenced)',
    source: 'https://cloud.google.com/bigquery/pricing (on-demand compute, $6.25 per TiB)',
  },
  firestoreRead: {
    usd: 0.06 / 100_000,
    unit: 'document read',
    source: 'https://cloud.google.com/firestore/pricing (multi-region, $0.06 per 100k reads)',
  },
  firestoreWrite: {
    usd: 0.18 / 100_000,
    unit: 'document write',
    source: 'https://cloud.google.com/firestore/pricing (multi-region, $0.18 per 100k writes)',
  },
  firestoreDelete: {
    usd: 0.02 / 100_000,
    unit: 'document delete',
    source: 'https://cloud.google.com/firestore/pricing (multi-region, $0.02 per 100k deletes)',
  },
  cloudRunRequest: {
    usd: 0.4 / 1_000_000,
    unit: 'request',
    source: 'https://cloud.google.com/run/pricing (Tier 1, request-based billing, $0.40 per million)',
  },
  cloudRunVcpuSecond: {
    usd: 0.000024,
    unit: 'vCPU-second',
    source: 'https://cloud.google.com/run/pricing (Tier 1, request-based billing)',
  },
  cloudRunGibSecond: {
    usd: 0.0000025,
    unit: 'GiB-second',
    source: 'https://cloud.google.com/run/pricing (Tier 1, request-based billing)',
  },
  tardisHistoryCall: {
    usd: 0,
    unit: 'history API call',
    source: 'https://tardis.dev/pricing (subscription priced, not per call; counted, not priced)',
  },
} as const satisfies Record<string, Price>;

/** The writer's memory per vCPU (infra/modules/writer: 1 vCPU, 512 MiB): GiB-seconds per CPU second. */
export const WRITER_GIB_PER_VCPU = 0.5;
