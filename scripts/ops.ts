// `npm run ops -- <command>`: list gaps and checkpoints, backfill a window by hand, and run, pause or
// resume the gap-filler's Cloud Scheduler job. `npm run ops -- --help` lists commands and variables.
import { runCli } from './ops/cli.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
