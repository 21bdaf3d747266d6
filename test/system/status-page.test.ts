// The status page (`npm run ops -- serve`) in a real headless Chromium against the local stack: it shows
// the configured streams with live coverage, then a gap after the exchange drops the relay's connections,
// then that gap filled and backfilled coverage once the gap-filler has run.
// STATUS_PAGE_SCREENSHOT=<file.png> saves the page at the end (docs/images/status-page.png is made so).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import test from 'ava';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { terminateGroup } from '../../scripts/local/process-group.ts';
import { REPO_ROOT } from '../../scripts/local/service.ts';
import { startStack, type Stack } from '../../scripts/local/stack.ts';
import { waitUntil } from '../../scripts/local/verify.ts';
import { newGap } from '../../functions/core/gapfill/gaps.ts';
import { parseStreamId } from '../../functions/core/model/streams.ts';
import { ensureChromium } from '../support/chromium.ts';
import { requireEmulators, uniqueName } from '../support/env.ts';

const SYMBOLS = ['btcusdt', 'ethusdt'];
const STREAMS = SYMBOLS.map((s) => `binance:${s}:trade`);
/** A gap reason that would become an element if the page parsed data as HTML. */
const MARKUP = '<img id=injected src=data:,>';

/** `npm run ops -- serve` as a child process in its own group; resolves with the URL it prints. */
async function serve(env: Readonly<Record<string, string>>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/ops.ts', 'serve', '--port', '0', '--hours', '0.05', '--refresh', '1'],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`ops serve exited (${String(code)}) before printing its URL: ${stderr}`);
  });
  const printed = (async () => {
    for await (const line of lines) {
      const url = /^status page: (http:\/\/\S+\/) /.exec(line)?.[1];
      if (url) return url;
    }
    throw new Error(`ops serve printed no URL: ${stderr}`);
  })();
  const url = await Promise.race([printed, exited]);
  return { url, child };
}

/** The page's DOM, as the test reads it: per stream, its segments and its gap rows. */
function pageState(page: Page) {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('section.stream')).map((s) => ({
      stream: s.dataset.stream,
      live: s.querySelectorAll('.seg.live').length,
      backfill: s.querySelectorAll('.seg.backfill').length,
      gapSegments: s.querySelectorAll('.seg.gap').length,
      gaps: Array.from(s.querySelectorAll<HTMLElement>('tr[data-gap-id]')).map((r) => r.dataset.state),
    })),
  );
}

/** page.waitForFunction that, on timeout, says what the page and /api/status showed instead. */
async function waitForPage(
  page: Page,
  url: string,
  what: string,
  predicate: (streams: string[]) => boolean,
): Promise<void> {
  try {
    await page.waitForFunction(predicate, { timeout: 30_000 }, STREAMS);
  } catch (error) {
    const api = await fetch(`${url}api/status`).then((r) => r.text());
    const shown = JSON.stringify(await pageState(page));
    throw new Error(`the page did not show ${what}: page ${shown}; /api/status ${api.slice(0, 4000)}`, {
      cause: error,
    });
  }
}

let stack: Stack | undefined;
let server: ChildProcess | undefined;
let launching: Promise<Browser> | undefined;

test.after.always(async () => {
  const browser = await launching?.catch(() => undefined);
  await browser?.close().catch(() => {
    const pid = browser.process()?.pid;
    if (pid) process.kill(pid, 'SIGKILL');
  });
  if (server?.pid && server.exitCode === null) await terminateGroup(server.pid, 5000);
  await stack?.stop();
});

test.serial(
  'the status page shows every stream, then a gap after a dropped connection, then that gap filled and backfilled',
  async (t) => {
    const t0 = Date.now();
    const phases: Record<string, number> = {};
    const phase = (name: string) => (phases[name] = Date.now() - t0);
    const executablePath = ensureChromium();
    const emulators = requireEmulators();
    // Chromium starts while the stack does.
    launching = puppeteer.launch({
      executablePath,
      headless: true,
      // Root (CI) cannot use Chromium's sandbox; /dev/shm is small in containers.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
    launching.catch(() => undefined); // awaited below; a failed stack start must not leave it unhandled
    stack = await startStack({
      suffix: uniqueName('status').replace(/-/g, '_'),
      seed: 21,
      ratePerSymbol: 40,
      symbols: SYMBOLS,
      emulators: { pubsub: emulators.pubsub, firestore: emulators.firestore },
      gapfill: { settleMs: 2000, attemptTimeoutMs: 15_000, retryBaseMs: 500 },
    });
    const s = stack;
    phase('stack');
    const started = await serve(s.opsEnv);
    phase('serve');
    server = started.child;
    const browser = await launching;
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    phase('chromium');
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    await page.goto(started.url);

    // Every configured stream is shown, with live coverage on its timeline.
    await waitForPage(page, started.url, 'every stream with live coverage', (ids: string[]) =>
      ids.every((id) => document.querySelector(`section[data-stream="${id}"] .seg.live`) !== null),
    );
    phase('streams shown');
    t.deepEqual(
      (await pageState(page)).map((p) => p.stream),
      STREAMS,
    );
    const api = await fetch(`${started.url}api/status`);
    t.is(api.status, 200);
    const body = (await api.json()) as { streams: { stream: string }[]; errors: unknown[] };
    t.deepEqual(
      body.streams.map((x) => x.stream),
      STREAMS,
    );

    // The drop: the exchange closes every socket and refuses reconnects for a while. History answers
    // 500 at first, so the gap the gap-filler records stays unfilled (failed) until history is back.
    const connections = s.simulator.stats().connections;
    s.simulator.refuse(3000);
    s.simulator.dropAll();
    await waitUntil(async () => s.simulator.stats().connections > connections, 40_000, 100);
    s.history!.failNext(1_000_000, 500);
    await waitUntil(
      async () => {
        await s.runGapfill();
        const unfilled = await s.ledger.list({ states: ['open', 'failed'] });
        return STREAMS.every((id) => unfilled.some((g) => `binance:${g.stream.symbol}:trade` === id));
      },
      60_000,
      500,
    );
    await waitForPage(page, started.url, 'an unfilled gap in every stream', (ids: string[]) =>
      ids.every((id) => {
        const section = `section[data-stream="${id}"]`;
        const row = ['open', 'failed'].map((state) => `${section} tr[data-gap-id][data-state="${state}"]`);
        return (
          document.querySelector(row.join(', ')) !== null &&
          document.querySelector(`${section} .seg.gap`) !== null
        );
      }),
    );
    phase('gap shown');
    const withGap = await pageState(page);
    t.true(
      withGap.every((p) => p.gaps.some((g) => g === 'open' || g === 'failed') && p.gapSegments > 0),
      JSON.stringify(withGap),
    );

    // History is back: the gap-filler runs (as its Scheduler job would) until nothing is left to fill.
    s.history!.clear();
    await waitUntil(
      async () => {
        await s.runGapfill();
        return (await s.ledger.list({ states: ['open', 'filling', 'failed'] })).length === 0;
      },
      60_000,
      500,
    );
    await waitForPage(page, started.url, 'every gap filled and backfilled', () =>
      Array.from(document.querySelectorAll('section.stream')).every(
        (s) =>
          s.querySelector('tr[data-gap-id]') !== null &&
          s.querySelector('tr[data-gap-id]:not([data-state="filled"])') === null &&
          s.querySelector('.seg.gap') === null &&
          s.querySelector('.seg.backfill') !== null,
      ),
    );
    phase('filled shown');
    const filled = await pageState(page);
    t.log(JSON.stringify({ phasesMs: phases, page: filled }));
    for (const p of filled) {
      t.true(p.gaps.length > 0 && p.gaps.every((g) => g === 'filled'));
      t.true(p.backfill > 0 && p.live > 0);
    }
    const shot = process.env.STATUS_PAGE_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot as `${string}.png`, fullPage: true });

    // Text from data (here a gap's reason, as an operator's tool might write it) shows as text, never markup.
    const now = Date.now();
    const marked = newGap(parseStreamId(STREAMS[0]!), now - 60_000, now - 50_000, 'manual', now);
    await s.ledger.record({ ...marked, state: 'unfillable', reason: MARKUP });
    await waitForPage(page, started.url, 'the gap with markup in its reason', () =>
      Array.from(document.querySelectorAll('td.reason')).some(
        (td) => td.textContent === '<img id=injected src=data:,>',
      ),
    );
    t.false(
      await page.evaluate(() => document.getElementById('injected') !== null),
      'the markup was not parsed',
    );
    t.deepEqual(pageErrors, []);
  },
);
