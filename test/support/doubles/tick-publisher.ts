import { decodeBatch } from '../../../functions/core/contract/decode.ts';
import type { Batch, EncodedMessage } from '../../../functions/core/contract/batch.ts';
import type { TickPublisher } from '../../../functions/core/ports.ts';

/** A TickPublisher double: publishes into memory (decoded); `mode` decides how each publish settles. */
export class FakePublisher implements TickPublisher {
  readonly published: Batch[] = [];
  readonly pending: { resolve: () => void; reject: (e: Error) => void; batch: Batch }[] = [];
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  closed = 0;
  async publish(message: EncodedMessage): Promise<string> {
    const { batch } = decodeBatch(message.data);
    if (this.mode === 'fail') throw new Error('UNAVAILABLE');
    if (this.mode === 'hang') {
      await new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject, batch }));
    }
    this.published.push(batch);
    return String(this.published.length);
  }
  async close(): Promise<void> {
    this.closed++;
  }
}
