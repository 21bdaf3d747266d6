import type { ClientConfig, PubSub, Topic } from '@google-cloud/pubsub';
import type { EncodedMessage } from '../../core/contract/batch.ts';
import type { TickPublisher } from '../../core/ports.ts';

export interface PublisherOptions {
  /** The client's own batching; our batches are already large, so keep its wait short. */
  readonly maxMessages: number;
  readonly maxMilliseconds: number;
  /**
   * Longest one publish may take, retries included. The client's default retries UNAVAILABLE for up to
   * 600 s, holding every message in memory meanwhile; bounded, a failure surfaces as a lost window.
   */
  readonly timeoutMs: number;
}

export const DEFAULT_PUBLISHER_OPTIONS: PublisherOptions = Object.freeze({
  maxMessages: 100,
  maxMilliseconds: 5,
  timeoutMs: 10_000,
});

/**
 * gRPC channel options for the relay's PubSub client: reconnect quickly after an outage (grpc-js backs
 * off up to 120 s by default, which would keep publishing down long after Pub/Sub is back).
 */
export const RELAY_GRPC_OPTIONS: ClientConfig = Object.freeze({
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2_000,
}) as ClientConfig;

/**
 * The TickPublisher port on a Pub/Sub topic. Memory is bounded by the caller (RelayService counts every
 * message until it settles and refuses batches past its in-flight bound): the client's
 * `flowControlOptions` only act through `topic.flowControlled()`, not on `publishMessage`.
 */
export class PubSubTickPublisher implements TickPublisher {
  private readonly topic: Topic;
  private closing: Promise<void> | undefined;

  constructor(pubsub: PubSub, topicName: string, options: PublisherOptions = DEFAULT_PUBLISHER_OPTIONS) {
    this.topic = pubsub.topic(topicName, {
      batching: { maxMessages: options.maxMessages, maxMilliseconds: options.maxMilliseconds },
      // A timeout without retry settings makes gax use it as the per-attempt and the total deadline.
      gaxOpts: { timeout: options.timeoutMs },
    });
  }

  publish(message: EncodedMessage): Promise<string> {
    return this.topic.publishMessage({ data: message.data, attributes: message.attributes });
  }

  /** Flushes the client's batch; the composition root closes the PubSub client afterwards. */
  close(): Promise<void> {
    this.closing ??= this.topic.flush();
    return this.closing;
  }
}
