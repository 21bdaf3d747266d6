/** Counters of one writer instance since it started. */
export interface WriterCounters {
  /** Push requests handled (every status). */
  deliveries: number;
  /** Batches acknowledged with their rows stored (some ticks may have been quarantined); one per v3 delivery. */
  committed: number;
  /** Deliveries acknowledged with the whole message in quarantine (poison). */
  quarantinedMessages: number;
  /** Sections of v4 bundles kept whole in quarantine (unreadable or invalid); their neighbours were stored. */
  quarantinedSections: number;
  /** Requests that were not Pub/Sub pushes (4xx). */
  rejected: number;
  /** Deliveries answered 503 so that Pub/Sub redelivers them. */
  retryResponses: number;
  /** Tick rows the warehouse accepted (a redelivered batch counts again). */
  rowsWritten: number;
  /** Quarantine entries stored (messages and ticks). */
  quarantinedRows: number;
  /** insertAll requests sent (merged requests count once). */
  insertRequests: number;
  /** insertAll requests that failed as a whole (5xx, 429, timeout, network). */
  insertRequestErrors: number;
  /** Retry attempts after a failed request or failed rows, and the rows they re-sent. */
  insertRetries: number;
  rowsRetried: number;
}

export { LatencyWindow, type LatencySummary } from '../shared/latency-window.ts';

export function newCounters(): WriterCounters {
  return {
    deliveries: 0,
    committed: 0,
    quarantinedMessages: 0,
    quarantinedSections: 0,
    rejected: 0,
    retryResponses: 0,
    rowsWritten: 0,
    quarantinedRows: 0,
    insertRequests: 0,
    insertRequestErrors: 0,
    insertRetries: 0,
    rowsRetried: 0,
  };
}
