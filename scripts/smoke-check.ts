/**
 * Deploy smoke check (Cloud Build's last step, or by hand after a deploy): waits until every configured
 * stream's checkpoint has advanced recently, which needs the whole path to work for that stream —
 * relay -> Pub/Sub -> push -> writer -> BigQuery -> Firestore checkpoint.
 *
 *   npx tsx scripts/smoke-check.ts --project=P --streams='binance:btcusdt:trade' [--max-age-s=120]
 *     [--wait-s=300] [--collection=checkpoints]
 *
 * Uses application default credentials (the build's service account needs Firestore read access).
 * Exits 0 when every stream is fresh, 1 with a table of stale streams when --wait-s runs out.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { FirestoreCheckpointStore } from '../functions/adapters/firestore/checkpoint-store.ts';
import { systemClock, type Checkpoint } from '../functions/core/ports.ts';
import { parseStreamsConfig } from '../functions/core/model/streams-config.ts';
import { streamId, type StreamKey } from '../functions/core/model/streams.ts';
import { DEFAULT_TOPOLOGY } from '../functions/core/contract/topology.ts';

export interface StreamFreshness {
  readonly stream: string;
  /** Milliseconds since the checkpoint's covered window ended; null when there is no checkpoint. */
  readonly ageMs: number | null;
  readonly fresh: boolean;
}

/** Which configured streams have a checkpoint covering up to at least `now - maxAgeMs`. */
export function freshness(
  streams: readonly StreamKey[],
  checkpoints: readonly Checkpoint[],
  now: number,
  maxAgeMs: number,
): StreamFreshness[] {
  const byId = new Map(checkpoints.map((c) => [streamId(c.stream), c]));
  return streams.map((stream) => {
    const id = streamId(stream);
    const checkpoint = byId.get(id);
    const ageMs = checkpoint ? now - checkpoint.coveredTo : null;
    return { stream: id, ageMs, fresh: ageMs !== null && ageMs <= maxAgeMs };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      project: { type: 'string' },
      streams: { type: 'string' },
      'max-age-s': { type: 'string', default: '120' },
      'wait-s': { type: 'string', default: '300' },
      collection: { type: 'string', default: DEFAULT_TOPOLOGY.checkpoints },
    },
  });
  if (!values.project || !values.streams) throw new Error('--project and --streams are required');
  const streams = parseStreamsConfig(values.streams);
  const maxAgeMs = Number(values['max-age-s']) * 1000;
  const deadline = Date.now() + Number(values['wait-s']) * 1000;

  // Imported here so that importing freshness() (the tests do) does not load the Firestore client.
  const { Firestore } = await import('@google-cloud/firestore');
  const firestore = new Firestore({ projectId: values.project });
  const store = new FirestoreCheckpointStore(firestore, values.collection, systemClock);
  try {
    for (;;) {
      const report = freshness(streams, await store.list(), Date.now(), maxAgeMs);
      const stale = report.filter((r) => !r.fresh);
      if (stale.length === 0) {
        console.log(
          JSON.stringify({ severity: 'NOTICE', message: 'every stream is fresh', streams: report }),
        );
        return;
      }
      if (Date.now() >= deadline) {
        console.error(JSON.stringify({ severity: 'ERROR', message: 'streams not fresh in time', stale }));
        process.exitCode = 1;
        return;
      }
      console.log(JSON.stringify({ severity: 'INFO', message: 'waiting for streams', stale: stale.length }));
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
  } finally {
    await firestore.terminate();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
