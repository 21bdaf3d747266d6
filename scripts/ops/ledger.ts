// `ops gaps` and `ops checkpoints`: what the gap ledger and the checkpoints say, read from Firestore.
import { Firestore } from '@google-cloud/firestore';
import { FirestoreCheckpointStore } from '../../functions/adapters/firestore/checkpoint-store.ts';
import { FirestoreGapLedger } from '../../functions/adapters/firestore/gap-ledger.ts';
import type { Gap, GapState } from '../../functions/core/gapfill/gaps.ts';
import { systemClock } from '../../functions/core/ports.ts';
import { streamId, type StreamKey } from '../../functions/core/model/streams.ts';
import { GAP_STATES, type LedgerEnv } from './env.ts';
import { duration, iso, table } from './format.ts';
import type { Io } from './io.ts';

export interface GapsArgs {
  readonly states: readonly GapState[];
  readonly stream: StreamKey | undefined;
  readonly json: boolean;
}

/** A gap as the CLI prints it in JSON: times as ISO strings next to their milliseconds. */
export function gapJson(gap: Gap): Record<string, unknown> {
  return {
    id: gap.id,
    stream: streamId(gap.stream),
    from: iso(gap.from),
    to: iso(gap.to),
    fromMs: gap.from,
    toMs: gap.to,
    durationMs: gap.to - gap.from,
    detectedBy: gap.detectedBy,
    state: gap.state,
    attempts: gap.attempts,
    rowsBackfilled: gap.rowsBackfilled,
    reason: gap.reason,
    nextAttemptAt: iso(gap.nextAttemptAt),
    createdAt: iso(gap.createdAt),
    updatedAt: iso(gap.updatedAt),
    fillableAt: iso(gap.fillableAt),
    filledAt: iso(gap.filledAt),
    fillLatencyMs: fillLatency(gap),
  };
}

/**
 * filledAt - fillableAt: what the target "a gap shorter than 5 minutes is filled within 5 minutes of
 * becoming fillable" measures; null until the gap is filled (or for ledgers older than the fields).
 */
export function fillLatency(gap: Gap): number | null {
  return gap.state === 'filled' && gap.filledAt !== null && gap.fillableAt !== null
    ? gap.filledAt - gap.fillableAt
    : null;
}

export async function gapsCommand(args: GapsArgs, env: LedgerEnv, io: Io): Promise<number> {
  const firestore = new Firestore({ projectId: env.projectId });
  try {
    const ledger = new FirestoreGapLedger(firestore, env.gaps);
    const gaps = await ledger.list({
      ...(args.states.length > 0 ? { states: args.states } : {}),
      ...(args.stream ? { stream: args.stream } : {}),
    });
    if (args.json) {
      io.out(JSON.stringify(gaps.map(gapJson)));
      return 0;
    }
    if (gaps.length === 0) {
      io.out(
        `no gaps${args.states.length > 0 ? ` in state ${args.states.join(', ')}` : ''} (collection ${env.gaps})`,
      );
      return 0;
    }
    const now = Date.now();
    io.out(
      table(
        [
          'gap',
          'stream',
          'from',
          'to',
          'length',
          'by',
          'state',
          'tries',
          'rows',
          'fillable',
          'filled after',
          'note',
        ],
        gaps.map((g) => [
          g.id,
          streamId(g.stream),
          iso(g.from)!,
          iso(g.to)!,
          duration(g.to - g.from),
          g.detectedBy,
          g.state,
          String(g.attempts),
          String(g.rowsBackfilled),
          iso(g.fillableAt) ?? '-',
          duration(fillLatency(g)),
          note(g, now),
        ]),
      ),
    );
    const counts = GAP_STATES.map((s) => [s, gaps.filter((g) => g.state === s).length] as const).filter(
      ([, n]) => n,
    );
    io.out(
      `${gaps.length} gap${gaps.length === 1 ? '' : 's'}: ${counts.map(([s, n]) => `${s} ${n}`).join(', ')}`,
    );
    return 0;
  } finally {
    await firestore.terminate();
  }
}

function note(gap: Gap, now: number): string {
  const parts: string[] = [];
  if (gap.state === 'failed' && gap.nextAttemptAt > now)
    parts.push(`retry in ${duration(gap.nextAttemptAt - now)}`);
  if (gap.reason) parts.push(gap.reason);
  return parts.join('; ');
}

interface CheckpointRow {
  readonly stream: string;
  readonly coveredTo: string | null;
  /** Now minus the end of the newest committed coverage; null for a stream never recorded. */
  readonly ageMs: number | null;
  readonly lastTickTs: string | null;
  readonly lastTradeId: string | null;
  readonly committedRows: number;
  readonly lastBatchId: string;
  readonly updatedAt: string | null;
}

export async function checkpointsCommand(
  args: { readonly json: boolean },
  env: LedgerEnv,
  io: Io,
): Promise<number> {
  const firestore = new Firestore({ projectId: env.projectId });
  try {
    const store = new FirestoreCheckpointStore(firestore, env.checkpoints, systemClock);
    const now = Date.now();
    const rows: CheckpointRow[] = (await store.list()).map((c) => ({
      stream: streamId(c.stream),
      coveredTo: iso(c.coveredTo),
      ageMs: now - c.coveredTo,
      lastTickTs: c.lastTickTs ? iso(c.lastTickTs / 1000) : null,
      lastTradeId: c.lastTradeId,
      committedRows: c.committedRows,
      lastBatchId: c.lastBatchId,
      updatedAt: iso(c.updatedAt),
    }));
    // Streams that should be recorded but never were show up too: that is the first thing to notice.
    for (const stream of env.streams ?? []) {
      const id = streamId(stream);
      if (rows.some((r) => r.stream === id)) continue;
      rows.push({
        stream: id,
        coveredTo: null,
        ageMs: null,
        lastTickTs: null,
        lastTradeId: null,
        committedRows: 0,
        lastBatchId: '',
        updatedAt: null,
      });
    }
    rows.sort((a, b) => (a.stream < b.stream ? -1 : 1));
    if (args.json) {
      io.out(JSON.stringify(rows));
      return 0;
    }
    if (rows.length === 0) {
      io.out(`no checkpoints (collection ${env.checkpoints})`);
      return 0;
    }
    io.out(
      table(
        ['stream', 'covered to', 'age', 'last tick', 'last trade id', 'rows', 'last batch'],
        rows.map((r) => [
          r.stream,
          r.coveredTo ?? 'never',
          r.ageMs === null ? '-' : duration(r.ageMs),
          r.lastTickTs ?? '-',
          r.lastTradeId ?? '-',
          String(r.committedRows),
          r.lastBatchId || '-',
        ]),
      ),
    );
    return 0;
  } finally {
    await firestore.terminate();
  }
}
