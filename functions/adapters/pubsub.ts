import type { PubSub, Topic } from '@google-cloud/pubsub';
import type { EncodedMessage } from '../core/message.ts';
import type { TickPublisher } from '../core/ports.ts';

export interface PublisherOptions {
  /** The client's own batching; our batches are already large, so keep its wait short. */
  readonly maxMessages: number;
  readonly maxMilliseconds: number;
}

/** The TickPublisher port on a Pub/Sub topic. */
export class PubSubTickPublisher implements TickPublisher {
  private readonly topic: Topic;
  private closing: Promise<void> | undefined;

  constructor(
    pubsub: PubSub,
    topicName: string,
    options: PublisherOptions = { maxMessages: 100, maxMilliseconds: 5 },
  ) {
    this.topic = pubsub.topic(topicName, {
      batching: { maxMessages: options.maxMessages, maxMilliseconds: options.maxMilliseconds },
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
