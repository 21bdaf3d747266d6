/**
 * The writer's core: one push delivery in, one HTTP status out (400 not a push, 200 stored or
 * quarantined, 503 not durable: Pub/Sub redelivers). plan.ts says what a delivery writes, commit.ts
 * writes it.
 */
import type { CheckpointCoalescer, CoalescerStats } from './checkpoint-coalescer.ts';
import type { Clock, Logger, Warehouse } from '../ports.ts';
import { EnvelopeError, parsePushEnvelope, type PushEnvelope } from '../contract/push-envelope.ts';
import { sleep as realSleep } from '../shared/retry.ts';
import { errorMessage } from '../shared/errors.ts';
import { logSignal } from '../shared/signals.ts';
import { streamId } from '../model/streams.ts';
import { CommitStep, type Committed } from './commit.ts';
import { DEFAULT_WRITER_OPTIONS, type WriterOptions } from './options.ts';
import { planDelivery, poisonPlan, type BatchPlan, type Plan, type PoisonPlan } from './plan.ts';
import { LatencyWindow, newCounters, type LatencySummary, type WriterCounters } from './stats.ts';

export interface WriterDeps {
  readonly warehouse: Warehouse;
  readonly checkpoints: CheckpointCoalescer;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options?: Partial<WriterOptions>;
  /** Waits between retries; injected so tests can drive time. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type WriterOutcome = 'committed' | 'quarantined' | 'retry' | 'rejected';

export interface WriterResult {
  /** HTTP status for Pub/Sub: 2xx acknowledges, anything else is redelivered. */
  readonly status: number;
  readonly outcome: WriterOutcome;
  /** Tick rows stored. */
  readonly rows: number;
  /** Quarantine entries stored (a whole message counts once, however many parts it took). */
  readonly quarantined: number;
  readonly batchId?: string;
  /** Batches stored from a v4 bundle (its quarantined sections are counted in `quarantined`). */
  readonly batches?: number;
  readonly detail?: string;
}

export interface WriterStats extends WriterCounters {
  /** insertAll latency in the current reporting interval. */
  readonly insertLatency: LatencySummary;
  readonly checkpoints: CoalescerStats;
}

/** What handling one delivery needs. */
interface Delivery {
  readonly commit: CommitStep;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options: WriterOptions;
}

/**
 * The writer's rule: acknowledge a delivery (200) only when every row of its batch is in the warehouse
 * or, for rows that can never be valid, kept verbatim in quarantine; answer 503 when anything is not
 * durable (Pub/Sub redelivers) and 400 when the request is not a Pub/Sub push.
 */
export function createWriter(deps: WriterDeps) {
  const options: WriterOptions = { ...DEFAULT_WRITER_OPTIONS, ...deps.options };
  const { checkpoints, clock, logger } = deps;
  const counters = newCounters();
  const latency = new LatencyWindow();
  const commit = new CommitStep({
    warehouse: deps.warehouse,
    checkpoints,
    clock,
    sleep: deps.sleep ?? realSleep,
    options,
    counters,
    latency,
  });
  const delivery: Delivery = { commit, clock, logger, options };

  return {
    counters,
    /** Handles one push body and decides the HTTP status; `log` is the request's logger. Never throws. */
    async handle(body: unknown, log: Logger = logger): Promise<WriterResult> {
      counters.deliveries++;
      const deadline = clock.now() + options.deliveryDeadlineMs;
      let envelope: PushEnvelope;
      try {
        envelope = parsePushEnvelope(body);
      } catch (error) {
        counters.rejected++;
        const reason =
          error instanceof EnvelopeError ? error.message : `unreadable body: ${errorMessage(error)}`;
        logSignal(log, 'writer_not_a_push', { reason });
        return { status: 400, outcome: 'rejected', rows: 0, quarantined: 0, detail: reason };
      }
      try {
        return await commitDelivery({ ...delivery, logger: log }, envelope, deadline);
      } catch (error) {
        counters.retryResponses++;
        logSignal(log, 'writer_delivery_retried', {
          messageId: envelope.message.messageId,
          batchId: envelope.message.attributes.batch,
          deliveryAttempt: envelope.deliveryAttempt,
          error: errorMessage(error),
        });
        return { status: 503, outcome: 'retry', rows: 0, quarantined: 0, detail: errorMessage(error) };
      }
    },
    /** Counters, this interval's insert latency and the checkpoint lag. */
    stats(): WriterStats {
      return { ...counters, insertLatency: latency.summary(), checkpoints: checkpoints.stats() };
    },
    /** The same without latency percentiles: cheap enough to put in every response (local debugging). */
    quickStats() {
      return { ...counters, insertLatency: latency.quick(), checkpoints: checkpoints.stats() };
    },
    /** Logs the stats as one INFO line and starts a new latency interval. */
    reportStats(): void {
      logger.log('INFO', 'writer stats', { stats: this.stats() });
      latency.reset();
    },
  };
}

export type Writer = ReturnType<typeof createWriter>;

/** Plans and commits one delivery: 200 once all of it is durable; throws when it is not. */
async function commitDelivery(
  delivery: Delivery,
  envelope: PushEnvelope,
  deadline: number,
): Promise<WriterResult> {
  const plan = planOrPoison(delivery, envelope);
  if (plan.kind === 'poison') {
    await commitPoison(delivery, envelope, plan, deadline);
    return { status: 200, outcome: 'quarantined', rows: 0, quarantined: 1, detail: plan.entry.reason };
  }
  if (plan.kind === 'batch') {
    const [{ rows, quarantined }] = (await commitBatches(delivery, envelope, [plan], deadline)) as [
      Committed,
    ];
    return { status: 200, outcome: 'committed', rows, quarantined, batchId: plan.id };
  }
  // A bundle is acknowledged only when every section is durable; any failure redelivers all of it (the
  // row ids and batch ids make the sections already stored collapse).
  const [committed] = await Promise.all([
    plan.batches.length > 0 ? commitBatches(delivery, envelope, plan.batches, deadline) : [],
    Promise.all(plan.poison.map((section) => commitPoison(delivery, envelope, section, deadline, true))),
  ]);
  let [rows, quarantined] = [0, plan.poison.length];
  for (const c of committed) [rows, quarantined] = [rows + c.rows, quarantined + c.quarantined];
  const outcome = plan.batches.length > 0 ? 'committed' : 'quarantined';
  return { status: 200, outcome, rows, quarantined, batches: plan.batches.length };
}

/** Keeps a poison message, or a bundle's poison section, whole in quarantine. */
async function commitPoison(
  { commit, logger }: Delivery,
  envelope: PushEnvelope,
  plan: PoisonPlan,
  deadline: number,
  section = false,
): Promise<void> {
  await commit.poison(envelope, plan, deadline, section ? 'quarantinedSections' : 'quarantinedMessages');
  logSignal(logger, 'writer_message_quarantined', {
    messageId: envelope.message.messageId,
    ...(section ? { quarantineId: plan.entry.id } : {}),
    reason: plan.entry.reason,
    detail: plan.entry.detail,
    deliveryAttempt: envelope.deliveryAttempt,
  });
}

/** Stores a delivery's batches (a v3 message's, or a bundle's sections) and logs what each quarantined. */
async function commitBatches(
  { commit, logger }: Delivery,
  envelope: PushEnvelope,
  plans: readonly BatchPlan[],
  deadline: number,
): Promise<Committed[]> {
  const committed = await commit.batches(envelope, plans, deadline);
  plans.forEach((plan, k) => logBatch(logger, envelope, plan, committed[k]!));
  return committed;
}

function logBatch(logger: Logger, envelope: PushEnvelope, plan: BatchPlan, committed: Committed): void {
  const stream = streamId(plan.batch.stream);
  for (const [reason, ticks] of Object.entries(committed.quarantinedBy)) {
    logSignal(logger, 'writer_ticks_quarantined', { reason, stream, ticks, batchId: plan.id });
  }
  const { shard, epoch } = plan.batch;
  logger.log('DEBUG', 'batch committed', {
    batchId: plan.id,
    stream,
    rows: committed.rows,
    quarantined: committed.quarantined,
    deliveryAttempt: envelope.deliveryAttempt,
    // Fleet audit fields: who published the batch under which ownership epoch; never used to drop it.
    ...(shard === undefined ? {} : { shard }),
    ...(epoch === undefined ? {} : { epoch }),
  });
}

/** The delivery's plan, or poison when planning throws. */
function planOrPoison({ clock, logger, options }: Delivery, envelope: PushEnvelope): Plan {
  try {
    return planDelivery(envelope, clock.now(), options.validation);
  } catch (error) {
    // A deterministic failure on this input (a bug meeting odd data): it would fail on every
    // redelivery, so it is poison. Keep the message verbatim rather than loop.
    logSignal(logger, 'writer_processing_error', {
      messageId: envelope.message.messageId,
      error, // the Error itself, so the line carries its stack for Error Reporting
    });
    const { messageId, rawData } = envelope.message;
    return poisonPlan(messageId, 'processing_error', errorMessage(error), rawData);
  }
}
