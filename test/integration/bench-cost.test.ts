// The cost bench at a tiny load: its summary has the keys docs/COST.md promises, and the counts it
// takes at the taps are non-zero and agree with each other.
process.env.METADATA_SERVER_DETECTION = 'none';

import test from 'ava';
import { costBench } from '../../scripts/bench/cost.ts';
import { SECONDS_PER_MONTH } from '../../scripts/bench/cost/model.ts';
import { requireEmulators } from '../support/env.ts';

test('the cost bench prices both designs and the anchor from counts that agree with each other', async (t) => {
  t.timeout(600_000);
  const emulators = requireEmulators();
  const summary = await costBench({
    symbols: 1,
    // A busy and a quiet stream: few messages, as the emulator pushes only 2 at a time.
    types: ['trade', 'liquidation'],
    ratePerSymbol: 20,
    seconds: 2,
    warmupSeconds: 0, // every count from the relay's start, as before the warm-up existed
    seed: 7,
    reference: {
      streams: 500,
      ticksPerSecond: 10_000,
      historyDays: 30,
      gapfillRunsPerMonth: SECONDS_PER_MONTH / 60,
      checkpointGroups: 120,
      bundlers: 12,
    },
    emulators: { pubsub: emulators.pubsub, firestore: emulators.firestore },
    say: (line, data) => t.log(line, JSON.stringify(data ?? {})),
  });
  t.log(JSON.stringify(summary));
  t.is(summary.bench, 'cost');
  for (const key of ['usd_per_billion_ticks', 'usd_per_month'] as const) {
    t.deepEqual(Object.keys(summary[key]).sort(), ['after', 'anchor', 'before']);
    for (const usd of Object.values(summary[key])) t.true(Number.isFinite(usd) && usd > 0, `${key}: ${usd}`);
  }
  const monthTicks = 10_000 * SECONDS_PER_MONTH;
  t.true(
    Math.abs(summary.usd_per_month.before - (summary.usd_per_billion_ticks.before * monthTicks) / 1e9) <=
      summary.usd_per_month.before * 0.01,
    '$/month is $/billion ticks at the reference rate',
  );
  for (const design of ['before', 'after'] as const) {
    const m = summary.measured[design];
    t.true(m.ticks > 0, `${design}: ticks published`);
    t.true(m.publish.requests > 0 && m.publish.messages >= m.publish.requests, `${design}: publish requests`);
    t.true(
      m.publish.billableBytes >= 1000 * m.publish.requests,
      `${design}: 1,000 B minimum per publish request`,
    );
    // Nothing is refused locally, so every message is pushed exactly once.
    t.is(m.push.deliveries, m.publish.messages, `${design}: one push per published message`);
    t.is(m.push.acked, m.push.deliveries, `${design}: every push acknowledged`);
    t.is(m.push.messageBytes, m.publish.messageBytes, `${design}: pushed volume = published volume`);
    t.true(m.writer_cpu_s > 0, `${design}: writer CPU`);
    const ingested = m.ingestion.insertAll.billableBytes + m.ingestion.storageWrite.billableBytes;
    t.true(ingested > 0, `${design}: BigQuery ingestion`);
    t.true(m.firestore.writes > 0 && m.firestore.reads > 0, `${design}: checkpoints and heartbeats`);
    // Before: two warehouse queries per run; after: detection from the checkpoints (decisions/0029), none.
    t.is(
      m.gapfill_run.queries,
      design === 'before' ? 2 : 0,
      `${design}: detection queries per gap-filler run`,
    );
    t.is(m.gapfill_run.detected, 0, `${design}: the counted gap-filler run is steady state`);
    t.true(m.gapfill_run.firestore.reads > 0, `${design}: the gap-filler reads its lease and checkpoints`);
    const perTick = summary.per_tick[design];
    // Pushes follow what cuts messages: in v3 streams, scaled from the run to the reference; in v4 bundles,
    // each cut at the rate its rule gives at the reference (bundle-cuts.ts).
    const sources = summary.message_sources[design];
    if (design === 'before') {
      t.is(
        perTick.push_deliveries,
        m.push.deliveries * (sources.reference / sources.local / m.seconds / 10_000),
      );
    } else {
      const cuts = summary.bundle_cuts;
      t.is(perTick.push_deliveries, (12 * cuts.per_second) / 10_000);
      t.is(perTick.pubsub_publish_requests, perTick.push_deliveries);
      t.is(cuts.rule, 'wait', 'at 10,000 ticks/s over 12 bundles no bundle fills before its wait');
      // The relay keeps to the rule: over the time it ran (its startup included, as counted without a warm-up),
      // no more messages than one per wait, plus the one stop sends. One per 25 ms poll would be 40 a second.
      t.log(
        `after: ${m.publish.messages} messages in ${m.relay_seconds} s of relay (${cuts.by_wait} a second allowed)`,
      );
      t.true(
        m.publish.messages <= cuts.by_wait * m.relay_seconds + 1,
        `${m.publish.messages} messages in ${m.relay_seconds} s`,
      );
    }
  }
  // Pruned by partition bounds, two queries per run read a thousandth of what 500 streams read through the views.
  t.true(summary.query_bytes_per_gapfill_run.after * 1000 < summary.query_bytes_per_gapfill_run.before);
});
