import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Tick } from '../../functions/core/model/tick.ts';
import type { HistoryServer } from '../../scripts/local/exchange/history-server.ts';

const HISTORY_CLI = fileURLToPath(new URL('./history-ticks-cli.ts', import.meta.url));

/**
 * The gap-filler's read path (TardisHistorySource, the relay's normalizers) for `types` (comma-separated)
 * of one symbol in [from, to), in a child process (NODE_EXTRA_CA_CERTS is read only at start): each tick
 * with the row id the gap-filler would write.
 */
export async function historyTicks(
  history: HistoryServer,
  exchange: string,
  symbol: string,
  types: string,
  from: number,
  to: number,
): Promise<{ rowId: string; tick: Tick }[]> {
  const args = [HISTORY_CLI, history.endpoint, exchange, symbol, types, String(from), String(to)];
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: history.certPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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
