// `ops backfill`: fills one window of one stream by hand, through the gap-filler's own core and wiring.
import { hostname } from 'node:os';
import { backfillWindow } from '../../functions/core/gapfill/manual-backfill.ts';
import { jsonLogger } from '../../functions/core/shared/logger.ts';
import { streamId, type StreamKey } from '../../functions/core/model/streams.ts';
import type { GapfillConfig } from '../../functions/gapfill/config.ts';
import { wireGapfill } from '../../functions/gapfill/deps.ts';
import { duration, iso } from './format.ts';
import type { Io } from './io.ts';
import { gapJson } from './ledger.ts';

export interface BackfillArgs {
  readonly stream: StreamKey;
  readonly from: number;
  readonly to: number;
  readonly json: boolean;
}

export async function backfillCommand(args: BackfillArgs, config: GapfillConfig, io: Io): Promise<number> {
  // Progress goes to stderr as JSON log lines; stdout carries only the result.
  const logger = jsonLogger(io.err, { level: config.logLevel, fields: { component: 'ops' } });
  const deps = wireGapfill(config, logger);
  try {
    const gap = await backfillWindow(
      { ...deps, holder: `ops-${hostname()}-${process.pid}` },
      args.stream,
      args.from,
      args.to,
    );
    if (args.json) {
      io.out(JSON.stringify(gapJson(gap)));
    } else {
      io.out(
        `gap ${gap.id} ${streamId(gap.stream)} [${iso(gap.from)}, ${iso(gap.to)}) ${duration(gap.to - gap.from)}: ` +
          `${gap.state}, ${gap.rowsBackfilled} rows backfilled, attempt ${gap.attempts}`,
      );
    }
    if (gap.state !== 'filled') {
      io.err(`backfill did not complete: ${gap.state}${gap.reason ? `: ${gap.reason}` : ''}`);
      return 1;
    }
    return 0;
  } finally {
    await deps.close();
  }
}
