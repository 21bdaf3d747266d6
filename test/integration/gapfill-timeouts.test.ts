// The gap-filler's (and so the ops CLI's) BigQuery requests end at their own timeout when BigQuery hangs:
// the client's `timeout` is not enforced (teeny-request hands it to node-fetch 3, which ignores it).
// The BigQuery stand-in accepts the requests its faults pick and never answers them.
import { execFile } from 'node:child_process';
import test, { type ExecutionContext } from 'ava';
import { createBigQueryClient } from '../../functions/adapters/bigquery/client.ts';
import { ensureWarehouse } from '../../functions/adapters/bigquery/tables.ts';
import { runGapfill } from '../../functions/core/gapfill/gapfill-service.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { readGapfillConfig } from '../../functions/gapfill/config.ts';
import { wireGapfill } from '../../functions/gapfill/deps.ts';
import { startBigQueryStandin, type BigQueryStandin } from '../../scripts/local/bigquery/server.ts';
import { startHistoryServer } from '../../scripts/local/exchange/history-server.ts';
import { REPO_ROOT } from '../../scripts/local/service.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

const PROJECT = 'gapfill-timeouts';
const INSERT_TIMEOUT_MS = 500;
const QUERY_TIMEOUT_MS = 800;
/** Far beyond every timeout under test: reaching it means a request hung. */
const HUNG_MS = 45_000;

async function standin(t: ExecutionContext): Promise<{ s: BigQueryStandin; env: Record<string, string> }> {
  const s = await startBigQueryStandin({ projectId: PROJECT });
  t.teardown(() => s.stop());
  const dataset = uniqueName('gft').replace(/-/g, '_');
  await ensureWarehouse(createBigQueryClient(PROJECT, s.url), PROJECT, dataset);
  const emulators = requireEmulators();
  const suffix = uniqueName('gft');
  return {
    s,
    env: {
      GOOGLE_CLOUD_PROJECT: PROJECT,
      FIRESTORE_EMULATOR_HOST: emulators.firestore,
      METADATA_SERVER_DETECTION: 'none',
      RELAY_STREAMS: 'binance:btcusdt:trade',
      BIGQUERY_API_ENDPOINT: s.url,
      BIGQUERY_STORAGE_EMULATOR_HOST: s.storageHost,
      BIGQUERY_DATASET: dataset,
      CHECKPOINTS_COLLECTION: `checkpoints_${suffix}`,
      GAPS_COLLECTION: `gaps_${suffix}`,
      LEASES_COLLECTION: `leases_${suffix}`,
      GAPFILL_INSERT_TIMEOUT_MS: String(INSERT_TIMEOUT_MS),
      GAPFILL_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
      GAPFILL_AVAILABILITY_DELAY_MS: '0',
      GAPFILL_SETTLE_MS: '0',
      // The warehouse detection (the audit path, decisions/0029) is the one that queries BigQuery.
      GAPFILL_DETECTION: 'warehouse',
    },
  };
}

/** Starts and settles `work`, or says it hung. */
async function outcome<T>(
  start: () => Promise<T>,
): Promise<{ ms: number; value?: T; error?: Error; hung?: true }> {
  const started = Date.now();
  const work = start();
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), HUNG_MS)));
  try {
    const value = await Promise.race([work, guard]);
    return value === 'hung' ? { ms: Date.now() - started, hung: true } : { ms: Date.now() - started, value };
  } catch (error) {
    return { ms: Date.now() - started, error: error as Error };
  } finally {
    clearTimeout(timer);
  }
}

test('a hung insertAll and a hung query end at the gap-filler warehouse timeouts; answered ones work', async (t) => {
  const { s, env } = await standin(t);
  const deps = wireGapfill(readGapfillConfig(env), silentLogger);
  t.teardown(() => deps.close());
  const row = {
    insertId: 'g1',
    json: {
      gap_id: 'g1',
      exchange: 'binance',
      symbol: 'btcusdt',
      data_type: 'trade',
      gap_from: '2026-01-01T00:00:00Z',
      gap_to: '2026-01-01T00:01:00Z',
      detected_by: 'manual',
      state: 'open',
      attempts: 0,
      updated_at: '2026-01-01T00:00:00Z',
    },
  };

  s.setFaults({ timeoutRate: 1, pathPattern: '(insertAll|appendRows)$' });
  const insert = await outcome(() => deps.warehouse.insert('gaps', [row]));
  t.falsy(insert.hung, 'the insert hung');
  t.regex(insert.error?.message ?? '', new RegExp(`timed out after ${INSERT_TIMEOUT_MS} ms`));
  t.true(insert.ms >= INSERT_TIMEOUT_MS - 2, `gave up after ${insert.ms} ms`);

  s.setFaults({ timeoutRate: 1, pathPattern: '/queries' });
  const query = await outcome(() => deps.warehouse.query('SELECT 1 AS one'));
  t.falsy(query.hung, 'the query hung');
  t.regex(query.error?.message ?? '', new RegExp(`timed out after ${QUERY_TIMEOUT_MS} ms`));
  t.true(query.ms >= QUERY_TIMEOUT_MS - 2, `gave up after ${query.ms} ms`);
  t.log(`insert gave up after ${insert.ms} ms, query after ${query.ms} ms`);

  // Without faults the same transport stores and reads, with the client's value conversions.
  s.clearFaults();
  t.deepEqual(await deps.warehouse.insert('gaps', [row]), []);
  const rows = await deps.warehouse.query<{ id: string; ms: number; n: number }>(
    `SELECT gap_id AS id, UNIX_MILLIS(gap_to) AS ms, attempts + @k AS n FROM \`${PROJECT}.${env.BIGQUERY_DATASET}.gaps\``,
    { k: 2 },
  );
  t.deepEqual(rows, [{ id: 'g1', ms: Date.parse('2026-01-01T00:01:00Z'), n: 2 }]);
});

test('a gap-filler run against a BigQuery that never answers fails at the query timeout and frees its lease', async (t) => {
  const { s, env } = await standin(t);
  const deps = wireGapfill(readGapfillConfig(env), silentLogger);
  t.teardown(() => deps.close());
  s.setFaults({ timeoutRate: 1, pathPattern: '/queries' });
  const run = await outcome(() => runGapfill({ ...deps, holder: 'run-1' }));
  t.falsy(run.hung, 'the run hung');
  t.regex(run.error?.message ?? '', /query timed out/);
  s.clearFaults();
  const next = await runGapfill({ ...deps, holder: 'run-2' });
  t.true(next.leased, 'the lease was released by the failed run');
});

test('ops backfill against a BigQuery whose inserts hang exits 1 with the timeout as the reason', async (t) => {
  const { s, env } = await standin(t);
  const apiKey = 'timeouts-key';
  const history = await startHistoryServer({ seed: 3, ratePerSymbol: 5, symbols: ['btcusdt'], apiKey });
  t.teardown(() => history.stop());
  s.setFaults({ timeoutRate: 1, pathPattern: '(insertAll|appendRows)$' });
  const from = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
  const started = Date.now();
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/ops.ts',
        'backfill',
        '--stream',
        'binance:btcusdt:trade',
        '--from',
        new Date(from).toISOString(),
        '--to',
        new Date(from + 10_000).toISOString(),
        '--json',
      ],
      {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          ...env,
          NODE_EXTRA_CA_CERTS: history.certPath,
          TARDIS_API_ENDPOINT: history.endpoint,
          TARDIS_API_KEY: apiKey,
          LOG_LEVEL: 'ERROR',
        },
        timeout: HUNG_MS,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
  t.log(`ops backfill exited ${run.code} after ${Date.now() - started} ms`);
  t.is(run.code, 1, run.stderr);
  const gap = JSON.parse(run.stdout) as { state: string; reason: string; attempts: number };
  t.is(gap.state, 'failed');
  t.is(gap.attempts, 1);
  t.regex(gap.reason, new RegExp(`timed out after ${INSERT_TIMEOUT_MS} ms`));
});
