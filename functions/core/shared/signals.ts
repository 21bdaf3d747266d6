/**
 * Every log line that means data is late, lost or refused, by a stable name. Each line carries that name
 * in the `signal` field; a log-based metric per signal counts the lines (or records `value`) and an alert
 * watches it (infra/modules/monitoring; test/integration/infra-monitoring.test.ts keeps the two equal).
 */
import type { Logger, Severity } from '../ports.ts';

/** The JSON field naming the signal; the metrics' filters match `jsonPayload.signal`. */
export const SIGNAL_FIELD = 'signal';

export interface Signal {
  readonly component: 'relay' | 'writer' | 'gapfill';
  /** What the line says about data: it will arrive late, it is lost, or it was refused (kept or bounced). */
  readonly means: 'late' | 'lost' | 'refused';
  readonly severity: Severity;
  readonly message: string;
  /** Fields every line carries, extracted as metric labels (low cardinality only). */
  readonly labels: readonly string[];
  /** A numeric field the metric records as a distribution; without it, the metric counts lines. */
  readonly value?: string;
}

export const SIGNALS = {
  relay_publish_failed: {
    component: 'relay',
    means: 'lost',
    severity: 'ERROR',
    message: 'publish failed; batch lost, its window stays uncovered',
    labels: ['stream'],
  },
  relay_backlog_dropped: {
    component: 'relay',
    means: 'lost',
    severity: 'ERROR',
    message: 'publisher backlog full; batch dropped, its window stays uncovered',
    labels: ['stream'],
  },
  relay_shutdown_abandoned: {
    component: 'relay',
    means: 'lost',
    severity: 'ERROR',
    message: 'shutdown deadline passed: exiting with publishes in flight (their windows stay uncovered)',
    labels: [],
  },
  relay_connection_lost: {
    component: 'relay',
    means: 'late',
    severity: 'WARNING',
    message: 'exchange connection lost; coverage closed until the first message after reconnect',
    labels: ['exchange'],
  },
  relay_stream_failed: {
    component: 'relay',
    means: 'late',
    severity: 'ERROR',
    message: 'exchange stream failed; reconnecting in 1 s',
    labels: ['exchange'],
  },
  relay_stream_refused: {
    component: 'relay',
    means: 'refused',
    severity: 'CRITICAL',
    message: 'stream entry refused by the exchange',
    labels: ['exchange'],
  },
  relay_feed_failed: {
    component: 'relay',
    means: 'late',
    severity: 'CRITICAL',
    message: 'relay feed stopped unexpectedly',
    labels: [],
  },
  fleet_takeover: {
    component: 'relay',
    means: 'late',
    severity: 'NOTICE',
    message: 'fleet take-over',
    labels: ['shard'],
  },
  fleet_replay_hole: {
    component: 'relay',
    means: 'late',
    severity: 'ERROR',
    message: 'fleet take-over could not replay from the old publishedTo',
    labels: ['shard'],
  },
  fleet_shard_unowned: {
    component: 'relay',
    means: 'late',
    severity: 'WARNING',
    message: 'fleet shards without a live primary',
    labels: [],
  },
  fleet_step_down: {
    component: 'relay',
    means: 'late',
    severity: 'NOTICE',
    message: 'fleet step-down',
    labels: ['shard'],
  },
  fleet_handover_abandoned: {
    component: 'relay',
    means: 'late',
    severity: 'WARNING',
    message: 'fleet handover',
    labels: [],
  },
  relay_replay_overflow: {
    component: 'relay',
    means: 'late',
    severity: 'WARNING',
    message:
      "standby replay buffer full: oldest batches dropped, a take-over may not replay from the primary's publishedTo",
    labels: ['shard'],
  },
  writer_message_quarantined: {
    component: 'writer',
    means: 'refused',
    severity: 'WARNING',
    message: 'message quarantined',
    labels: ['reason'],
  },
  writer_ticks_quarantined: {
    component: 'writer',
    means: 'refused',
    severity: 'WARNING',
    message: 'ticks quarantined',
    labels: ['reason', 'stream'],
  },
  writer_processing_error: {
    component: 'writer',
    means: 'refused',
    severity: 'ERROR',
    message: 'message could not be processed; quarantined',
    labels: [],
  },
  writer_delivery_retried: {
    component: 'writer',
    means: 'late',
    severity: 'WARNING',
    message: 'delivery not committed; Pub/Sub will redeliver',
    labels: [],
  },
  writer_not_a_push: {
    component: 'writer',
    means: 'refused',
    severity: 'WARNING',
    message: 'request is not a Pub/Sub push',
    labels: [],
  },
  writer_body_refused: {
    component: 'writer',
    means: 'refused',
    severity: 'WARNING',
    message: 'request body refused before reading',
    labels: [],
  },
  writer_auth_refused: {
    component: 'writer',
    means: 'refused',
    severity: 'WARNING',
    message: 'push request not authenticated',
    labels: ['status'],
  },
  writer_auth_unavailable: {
    component: 'writer',
    means: 'late',
    severity: 'ERROR',
    message: 'push request not authenticated',
    labels: [],
  },
  writer_checkpoint_failed: {
    component: 'writer',
    means: 'late',
    severity: 'WARNING',
    message: 'checkpoint write failed; will retry',
    labels: ['stream'],
  },
  checkpoint_age: {
    component: 'gapfill',
    means: 'late',
    severity: 'INFO',
    message: 'checkpoint age',
    labels: ['stream'],
    value: 'checkpointAgeMs',
  },
  open_gap_age: {
    component: 'gapfill',
    means: 'late',
    severity: 'INFO',
    message: 'gap open',
    labels: ['stream'],
    value: 'gapAgeMs',
  },
  gap_fill_overdue: {
    component: 'gapfill',
    means: 'late',
    severity: 'INFO',
    message: 'gap fillable and not filled yet',
    labels: ['stream'],
    value: 'overdueMs',
  },
  gap_detected: {
    component: 'gapfill',
    means: 'late',
    severity: 'NOTICE',
    message: 'gap detected',
    labels: ['stream', 'detectedBy'],
  },
  gap_failed: {
    component: 'gapfill',
    means: 'late',
    severity: 'WARNING',
    message: 'gap failed',
    labels: ['stream'],
  },
  gap_unfillable: {
    component: 'gapfill',
    means: 'lost',
    severity: 'ERROR',
    message: 'gap unfillable',
    labels: ['stream'],
  },
  gapfill_key_refused: {
    component: 'gapfill',
    means: 'late',
    severity: 'ERROR',
    message: 'history API refused the API key; check TARDIS_API_KEY. No more fills this run.',
    labels: [],
  },
  gapfill_run_failed: {
    component: 'gapfill',
    means: 'late',
    severity: 'ERROR',
    message: 'gap-filler run failed',
    labels: [],
  },
} as const satisfies Record<string, Signal>;

export type SignalName = keyof typeof SIGNALS;

/** The fields a signal's line must carry: its labels and its value, then anything else. */
export type SignalFields<N extends SignalName> = {
  readonly [K in (typeof SIGNALS)[N]['labels'][number]]: unknown;
} & ((typeof SIGNALS)[N] extends { value: infer V extends string }
  ? { readonly [K in V]: number | null }
  : unknown) &
  Record<string, unknown>;

/**
 * Logs a signal's line: severity and message from the table (`detail`, when given, after a colon), and
 * `signal` set to its name.
 */
export function logSignal<N extends SignalName>(
  logger: Logger,
  name: N,
  fields: SignalFields<N>,
  detail?: string,
): void {
  const signal: Signal = SIGNALS[name];
  const message = detail === undefined ? signal.message : `${signal.message}: ${detail}`;
  logger.log(signal.severity, message, { ...fields, [SIGNAL_FIELD]: name });
}
