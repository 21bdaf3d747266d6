// Billed units read from the gRPC calls the deployables make to the Pub/Sub and Firestore emulators
// (through scripts/local/grpc-tap.ts), by each service's billing rules (prices.ts names the pages).
import type { TapMessage } from '../../local/grpc-tap.ts';
import { bytesOf, protoFields } from '../../local/proto-wire.ts';

/** Pub/Sub bills at least this many bytes per publish, push or pull request. */
export const PUBSUB_MIN_REQUEST_BYTES = 1000;
/** Pub/Sub counts 20 bytes for a message's timestamp in its data volume. */
export const PUBSUB_TIMESTAMP_BYTES = 20;

export interface PubSubPublishUsage {
  requests: number;
  messages: number;
  /** Data volume by the pricing page's rule: data, attribute keys and values, 20 B, message id. */
  messageBytes: number;
  /** The same with the 1,000-byte minimum applied per request. */
  billableBytes: number;
}

export interface FirestoreUsage {
  reads: number;
  writes: number;
  deletes: number;
  /** Of `reads`: documents read inside a transaction (a checkpoint or lease read-modify-write). */
  transactionReads: number;
}

/** Data volume of a `google.pubsub.v1.PubsubMessage` without its message id (assigned on publish). */
export function pubsubMessageBytes(message: Buffer): number {
  const fields = protoFields(message);
  const data = bytesOf(fields, 1).reduce((n, b) => n + b.length, 0);
  const attributes = bytesOf(fields, 2).reduce((n, entry) => {
    const kv = protoFields(entry);
    return (
      n + bytesOf(kv, 1).reduce((m, b) => m + b.length, 0) + bytesOf(kv, 2).reduce((m, b) => m + b.length, 0)
    );
  }, 0);
  return data + attributes + PUBSUB_TIMESTAMP_BYTES;
}

const PUBLISH = '/google.pubsub.v1.Publisher/Publish';
const FIRESTORE = '/google.firestore.v1.Firestore/';

/**
 * Counts Publish calls: a request's messages are billed once the response names their ids (a failed
 * publish bills nothing), each message with its id's length, the request at least 1,000 bytes.
 */
export class PublishCounter {
  readonly usage: PubSubPublishUsage = { requests: 0, messages: 0, messageBytes: 0, billableBytes: 0 };
  private readonly pending = new Map<number, number>();

  onMessage(m: TapMessage): void {
    if (m.method !== PUBLISH) return;
    if (m.compressed) throw new Error('compressed Publish call: the cost bench cannot count it');
    if (m.direction === 'request') {
      const bytes = bytesOf(protoFields(m.message), 2).reduce((n, msg) => n + pubsubMessageBytes(msg), 0);
      this.pending.set(m.call, bytes);
      return;
    }
    const ids = bytesOf(protoFields(m.message), 1);
    const bytes = (this.pending.get(m.call) ?? 0) + ids.reduce((n, id) => n + id.length, 0);
    this.pending.delete(m.call);
    this.usage.requests += 1;
    this.usage.messages += ids.length;
    this.usage.messageBytes += bytes;
    this.usage.billableBytes += Math.max(PUBSUB_MIN_REQUEST_BYTES, bytes);
  }
}

/**
 * Counts Firestore document operations by its billing rules: each write of a commit (a delete as a
 * delete), each document a get or query returns, and a query that returns nothing as one read.
 */
export class FirestoreCounter {
  readonly usage: FirestoreUsage = { reads: 0, writes: 0, deletes: 0, transactionReads: 0 };
  /** Queries whose first document has not been seen yet (a query that ends without one bills a read). */
  private readonly emptyQueries = new Set<number>();
  /** BatchGetDocuments calls made in a transaction (`transaction` or `new_transaction` set). */
  private readonly transactionGets = new Set<number>();

  onMessage(m: TapMessage): void {
    if (!m.method.startsWith(FIRESTORE)) return;
    if (m.compressed) throw new Error(`compressed ${m.method} call: the cost bench cannot count it`);
    const rpc = m.method.slice(FIRESTORE.length);
    const fields = protoFields(m.message);
    if (m.direction === 'request') {
      if (rpc === 'Commit' || rpc === 'BatchWrite') {
        for (const write of bytesOf(fields, 2)) {
          if (bytesOf(protoFields(write), 2).length > 0) this.usage.deletes += 1;
          else this.usage.writes += 1;
        }
      } else if (rpc === 'RunQuery') {
        this.emptyQueries.add(m.call);
        this.usage.reads += 1; // taken back when the query returns a document
      } else if (rpc === 'RunAggregationQuery') this.usage.reads += 1;
      else if (rpc === 'BatchGetDocuments' && bytesOf(fields, 4).length + bytesOf(fields, 5).length > 0)
        this.transactionGets.add(m.call);
      return;
    }
    if (rpc === 'BatchGetDocuments') {
      const documents = bytesOf(fields, 1).length + bytesOf(fields, 2).length;
      this.usage.reads += documents;
      if (this.transactionGets.has(m.call)) this.usage.transactionReads += documents;
    } else if (rpc === 'RunQuery') {
      const documents = bytesOf(fields, 1).length;
      if (documents > 0 && this.emptyQueries.delete(m.call)) this.usage.reads -= 1;
      this.usage.reads += documents;
    }
  }
}
