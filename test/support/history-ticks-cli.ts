// The gap-filler's history read path in a child process (NODE_EXTRA_CA_CERTS is read only at start):
// TardisHistorySource.ticks(stream, from, to) against an endpoint, one JSON line per tick with the row id
// the gap-filler would write, then {"end":count}.
//   tsx test/support/history-ticks-cli.ts <endpoint> <exchange> <symbol> <type[,type...]> <fromMs> <toMs>
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TardisHistorySource } from '../../functions/adapters/tardis/history-source.ts';
import { rowId } from '../../functions/core/model/row-id.ts';
import type { DataType } from '../../functions/core/model/streams.ts';

const [endpoint, exchange, symbol, type, from, to] = process.argv.slice(2);
const cacheDir = mkdtempSync(join(tmpdir(), 'tickstream-history-ticks-'));
try {
  const source = new TardisHistorySource({ endpoint: endpoint!, apiKey: '', cacheDir });
  let count = 0;
  // Several types in one process: a child's start costs seconds on a loaded machine.
  for (const one of type!.split(',')) {
    const stream = { exchange: exchange!, symbol: symbol!, type: one as DataType };
    for await (const tick of source.ticks(stream, Number(from), Number(to), new AbortController().signal)) {
      count++;
      process.stdout.write(`${JSON.stringify({ rowId: rowId(tick), tick })}\n`);
    }
  }
  process.stdout.write(`${JSON.stringify({ end: count })}\n`);
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
