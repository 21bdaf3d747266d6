import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { DataType } from '../../functions/core/model/streams.ts';
import type { BookChangeTick, Tick } from '../../functions/core/model/tick.ts';
import type { HistoryServer } from '../../scripts/local/exchange/history-server.ts';

const HISTORY_CLI = fileURLToPath(new URL('./history-ticks-cli.ts', import.meta.url));

/**
 * The gap-filler's read path (TardisHistorySource, the relay's normalizers) in a child process: the ticks of
 * one stream (or several types of one symbol) in `[from, to)` with the row ids the gap-filler writes.
 */
export async function historyTicks(
  history: HistoryServer,
  stream: {
    readonly exchange: string;
    readonly symbol: string;
    readonly type: DataType | readonly DataType[];
  },
  from: number,
  to: number,
): Promise<{ rowId: string; tick: Tick }[]> {
  const { exchange, symbol } = stream;
  const type = [stream.type].flat().join(','); // one child for several types: a child costs seconds to start
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', HISTORY_CLI, history.endpoint, exchange, symbol, type, String(from), String(to)],
    {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: history.certPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  const lines = out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { rowId?: string; tick?: Tick; end?: number });
  if (code !== 0 || lines.at(-1)?.end === undefined) {
    throw new Error(`history replay failed (${code}): ${out.slice(-500)}`);
  }
  return lines.filter((l) => l.tick !== undefined) as { rowId: string; tick: Tick }[];
}

/** historyTicks of a book_change stream. */
export async function backfill(
  history: HistoryServer,
  exchange: string,
  symbol: string,
  from: number,
  to: number,
): Promise<{ rowId: string; tick: BookChangeTick }[]> {
  const ticks = await historyTicks(history, { exchange, symbol, type: 'book_change' }, from, to);
  return ticks as { rowId: string; tick: BookChangeTick }[];
}
