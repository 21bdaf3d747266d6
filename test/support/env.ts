// What tests know about their environment: unique resource names, and the emulator hosts that
// scripts/run-tests.ts (`npm test`) exports for the whole run.
import { randomBytes } from 'node:crypto';

/** Emulator endpoints and project id exported by `npm test`. */
export interface EmulatorHosts {
  /** `host:port` of the Pub/Sub emulator (PUBSUB_EMULATOR_HOST). */
  readonly pubsub: string;
  /** `host:port` of the Firestore emulator (FIRESTORE_EMULATOR_HOST). */
  readonly firestore: string;
  /** Project id for every client (PUBSUB_PROJECT_ID / GCLOUD_PROJECT). */
  readonly projectId: string;
}

let counter = 0;

/**
 * `prefix_<random><n>_<pid>`: unique across parallel test files and runs, and valid everywhere we name
 * things: Pub/Sub topics and subscriptions (3-255 chars, start with a letter, not `goog`), BigQuery
 * datasets and tables (letters, digits, underscores) and Firestore collections. The prefix is lower-cased
 * and anything else becomes `_`.
 */
export function uniqueName(prefix: string): string {
  let base = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 100);
  if (!/^[a-z]/.test(base) || base.startsWith('goog')) base = `t_${base}`.replace(/_+$/, '');
  const random = randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(-6);
  return `${base}_${random}${(counter++).toString(36)}_${process.pid}`;
}

/**
 * The emulator hosts from the environment, or a clear error when the tests were not started through
 * `npm test` (running ava directly starts no emulators).
 */
export function requireEmulators(): EmulatorHosts {
  const pubsub = process.env.PUBSUB_EMULATOR_HOST;
  const firestore = process.env.FIRESTORE_EMULATOR_HOST;
  const projectId = process.env.PUBSUB_PROJECT_ID ?? process.env.GCLOUD_PROJECT;
  const missing = [
    pubsub ? undefined : 'PUBSUB_EMULATOR_HOST',
    firestore ? undefined : 'FIRESTORE_EMULATOR_HOST',
    projectId ? undefined : 'PUBSUB_PROJECT_ID or GCLOUD_PROJECT',
  ].filter((name) => name !== undefined);
  if (pubsub === undefined || firestore === undefined || projectId === undefined || missing.length > 0) {
    throw new Error(
      `This test needs the Pub/Sub and Firestore emulators, but ${missing.join(', ')} ` +
        `${missing.length === 1 ? 'is' : 'are'} not set. Run tests with \`npm test\` ` +
        '(e.g. `npm test -- test/integration/foo.test.ts`): scripts/run-tests.ts starts the emulators ' +
        'and exports their hosts. Running ava directly starts none.',
    );
  }
  return { pubsub, firestore, projectId };
}
