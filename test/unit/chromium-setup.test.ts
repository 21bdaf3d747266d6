import test from 'ava';
import { chromiumPlan, DEBIAN_CHROMIUM } from '../support/chromium.ts';

test('a Chromium that is there is used as it is', (t) => {
  for (const root of [true, false]) {
    t.deepEqual(chromiumPlan({ path: DEBIAN_CHROMIUM, exists: true, explicit: false, root }), {
      action: 'use',
      path: DEBIAN_CHROMIUM,
    });
  }
});

test("a missing Chromium is installed from Debian's package when running as root", (t) => {
  const plan = chromiumPlan({ path: DEBIAN_CHROMIUM, exists: false, explicit: false, root: true });
  if (plan.action !== 'install') return t.fail(`planned ${plan.action}`);
  t.is(plan.path, DEBIAN_CHROMIUM);
  t.deepEqual(plan.commands.at(-1), ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']);
  t.deepEqual(plan.commands[0], ['apt-get', 'update'], 'a fresh machine has no package lists yet');
});

test('a missing Chromium without root is a clear failure, never a skip', (t) => {
  const plan = chromiumPlan({ path: DEBIAN_CHROMIUM, exists: false, explicit: false, root: false });
  if (plan.action !== 'fail') return t.fail(`planned ${plan.action}`);
  t.regex(plan.message, /missing/);
  t.regex(plan.message, /not root/);
  t.regex(plan.message, /apt-get install -y chromium/);
});

test('a CHROMIUM_PATH that does not exist fails and is never installed over', (t) => {
  for (const root of [true, false]) {
    const plan = chromiumPlan({ path: '/opt/chrome/chrome', exists: false, explicit: true, root });
    t.is(plan.action, 'fail');
    if (plan.action === 'fail') t.regex(plan.message, /CHROMIUM_PATH=\/opt\/chrome\/chrome/);
  }
});
