// Counts test results from ava's `--tap` output, one line at a time.
// ava writes every outcome as a test line: crashes, uncaught exceptions, unhandled rejections, timeouts,
// killed workers and files without tests are `not ok`, skips are `ok … # SKIP`, todos `not ok … # TODO`.

export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
}

const TEST_LINE = /^(not )?ok\b(.*)$/;
const DIRECTIVE = /\s#\s*(SKIP|TODO)\b[^#]*$/i;
const PLAN = /^1\.\.\d+\s*$/;

/** Running tally of one TAP stream. */
export class TapTally {
  readonly counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  /** ava writes the plan (`1..N`) when the run ends; without it, ava itself crashed mid-run. */
  planSeen = false;

  /** Adds one line; lines that are not top-level test or plan lines are ignored. */
  add(rawLine: string): void {
    const line = rawLine.replace(/\r$/, '');
    if (PLAN.test(line)) {
      this.planSeen = true;
      return;
    }
    const match = TEST_LINE.exec(line);
    if (match === null) return;
    if (DIRECTIVE.test(match[2] ?? '')) this.counts.skipped++;
    else if (match[1] === undefined) this.counts.passed++;
    else this.counts.failed++;
  }
}

/** `N passed, N failed`, plus `, N skipped` when something was skipped or is todo. */
export function formatCounts(counts: TestCounts): string {
  const line = `${counts.passed} passed, ${counts.failed} failed`;
  return counts.skipped > 0 ? `${line}, ${counts.skipped} skipped` : line;
}
