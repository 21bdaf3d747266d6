import { decodeMessage } from '../../../functions/core/contract/decode.ts';
import type { Batch, EncodedMessage } from '../../../functions/core/contract/batch.ts';
import type { TickPublisher } from '../../../functions/core/ports.ts';

/**
 * A TickPublisher double: publishes into memory (decoded, a v4 bundle as its batches); `mode` decides how
 * each publish settles.
 */
export class FakePublisher implements TickPublisher {
  readonly published: Batch[] = [];
  /** Messages published (a v4 bundle counts once, however many batches it carries). */
  readonly messages: EncodedMessage[] = [];
  readonly pending: { resolve: () => void; reject: (e: Error) => void; batch: Batch; batches: Batch[] }[] =
    [];
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  closed = 0;
  async publish(message: EncodedMessage): Promise<string> {
    const batches = batchesOf(message.data);
    if (this.mode === 'fail') throw new Error('UNAVAILABLE');
    if (this.mode === 'hang') {
      await new Promise<void>((resolve, reject) =>
        this.pending.push({ resolve, reject, batch: batches[0]!, batches }),
      );
    }
    this.published.push(...batches);
    this.messages.push(message);
    return String(this.messages.length);
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

/** The batches of a message; a section that does not decode fails the test's publish loudly. */
export function batchesOf(data: Buffer): Batch[] {
  const decoded = decodeMessage(data);
  if (decoded.kind === 'batch') return [decoded.decoded.batch];
  return decoded.sections.map((section) => {
    if (section.decoded instanceof Error) throw section.decoded;
    return section.decoded.batch;
  });
}
