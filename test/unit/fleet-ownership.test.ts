import test from 'ava';
import {
  decideOwnership,
  type LocalView,
  type Observation,
  type OwnershipRecord,
  type Role,
} from '../../functions/core/fleet/ownership.ts';
import { sinceChangeMs, watchRecord, type LeaseWatch } from '../../functions/core/fleet/lease-watch.ts';

const LEASE = 15_000;
const STANDBY: Role = { role: 'standby' };

function view(over: Partial<LocalView> = {}): LocalView {
  return { self: 'relay-b', rank: 1, coveredTo: 0, sinceChangeMs: 0, leaseMs: LEASE, ...over };
}

function record(over: Partial<OwnershipRecord> = {}): Observation {
  return {
    kind: 'record',
    record: { holder: 'relay-a', epoch: 4, publishedTo: 1_000, renewedAt: 77, ...over },
  };
}

const UNREADABLE: Observation = { kind: 'unreadable' };
const ABSENT: Observation = { kind: 'absent' };

// A standby.

test('a standby stands by while the record is unreadable, even long past the lease', (t) => {
  const d = decideOwnership(STANDBY, UNREADABLE, view({ rank: 0, sinceChangeMs: 10 * LEASE }));
  t.is(d.action, 'stand-by');
  t.deepEqual(d.next, STANDBY);
});

test('a standby stands by while the holder renews, and takes over epoch + 1 once the record stood a lease', (t) => {
  t.is(decideOwnership(STANDBY, record(), view({ sinceChangeMs: LEASE - 1 })).action, 'stand-by');
  const d = decideOwnership(STANDBY, record({ publishedTo: 1_234 }), view({ sinceChangeMs: LEASE }));
  t.like(d, {
    action: 'take-over',
    expectEpoch: 4,
    epoch: 5,
    replayFrom: 1_234,
    next: { role: 'primary', epoch: 5 },
  });
});

test('an instance that holds no replica of the shard never takes it over', (t) => {
  t.is(
    decideOwnership(STANDBY, record(), view({ rank: undefined, sinceChangeMs: 10 * LEASE })).action,
    'stand-by',
  );
  t.is(
    decideOwnership(STANDBY, ABSENT, view({ rank: undefined, sinceChangeMs: 10 * LEASE })).action,
    'stand-by',
  );
});

test('with no record the preferred primary claims epoch 1 at once, another replica only after a lease', (t) => {
  const first = decideOwnership(STANDBY, ABSENT, view({ rank: 0 }));
  t.like(first, {
    action: 'take-over',
    expectEpoch: null,
    epoch: 1,
    replayFrom: null,
    next: { role: 'primary', epoch: 1 },
  });
  t.is(decideOwnership(STANDBY, ABSENT, view({ rank: 1, sinceChangeMs: LEASE - 1 })).action, 'stand-by');
  t.like(decideOwnership(STANDBY, ABSENT, view({ rank: 1, sinceChangeMs: LEASE })), {
    action: 'take-over',
    epoch: 1,
  });
});

test('a standby that the record names (its take-over committed unseen) takes the shard afresh', (t) => {
  const d = decideOwnership(STANDBY, record({ holder: 'relay-b', epoch: 7, publishedTo: 500 }), view());
  t.like(d, { action: 'take-over', expectEpoch: 7, epoch: 8, replayFrom: 500 });
});

// A primary.

test('a primary holding the record keeps publishing and renews it', (t) => {
  const role: Role = { role: 'primary', epoch: 4 };
  const d = decideOwnership(role, record({ holder: 'relay-b' }), view({ coveredTo: 2_000 }));
  t.like(d, { action: 'publish', renew: true, next: role });
});

test('a primary keeps publishing when the record is unreadable or gone, however long', (t) => {
  const role: Role = { role: 'primary', epoch: 4 };
  for (const observed of [UNREADABLE, ABSENT]) {
    const d = decideOwnership(role, observed, view({ sinceChangeMs: 100 * LEASE }));
    t.like(d, { action: 'publish', renew: true, next: role });
  }
});

test('a primary whose own renewals fail keeps publishing: its lease running out never stops it', (t) => {
  const role: Role = { role: 'primary', epoch: 4 };
  const d = decideOwnership(role, record({ holder: 'relay-b' }), view({ sinceChangeMs: 10 * LEASE }));
  t.like(d, { action: 'publish', next: role });
});

test('a primary keeps publishing on a stale read, on its epoch naming another holder, and when no longer a replica', (t) => {
  const role: Role = { role: 'primary', epoch: 4 };
  t.like(decideOwnership(role, record({ holder: 'relay-b', epoch: 3 }), view()), {
    action: 'publish',
    next: role,
  });
  t.like(decideOwnership(role, record({ holder: 'relay-c', epoch: 4 }), view()), {
    action: 'publish',
    next: role,
  });
  t.like(decideOwnership(role, record({ holder: 'relay-b' }), view({ rank: undefined })), {
    action: 'publish',
    next: role,
  });
});

test('a primary that sees a higher epoch steps down if it has published past its coverage, else keeps publishing, yielding', (t) => {
  const role: Role = { role: 'primary', epoch: 4 };
  const seen = (publishedTo: number) =>
    decideOwnership(role, record({ holder: 'relay-c', epoch: 5, publishedTo }), view({ coveredTo: 2_000 }));
  t.like(seen(2_000), { action: 'step-down', next: STANDBY });
  t.like(seen(1_999), {
    action: 'publish',
    renew: false,
    next: { role: 'yielding', epoch: 4, until: 2_000 },
  });
});

// A yielding instance.

test('a yielding instance steps down once the newer holder passes the coverage it had when it yielded', (t) => {
  const role: Role = { role: 'yielding', epoch: 4, until: 2_000 };
  // Its own coverage keeps growing while it publishes; the bar stays where it was, or it would never step down.
  const newer = (publishedTo: number) => record({ holder: 'relay-c', epoch: 5, publishedTo });
  t.like(decideOwnership(role, newer(1_999), view({ coveredTo: 9_000 })), {
    action: 'publish',
    renew: false,
    next: role,
  });
  t.like(decideOwnership(role, newer(2_000), view({ coveredTo: 9_000 })), {
    action: 'step-down',
    next: STANDBY,
  });
});

test('a yielding instance keeps publishing when the record is unreadable or read stale', (t) => {
  const role: Role = { role: 'yielding', epoch: 4, until: 2_000 };
  t.like(decideOwnership(role, UNREADABLE, view()), { action: 'publish', renew: false, next: role });
  t.like(decideOwnership(role, record({ epoch: 4 }), view()), {
    action: 'publish',
    renew: false,
    next: role,
  });
  t.like(decideOwnership(role, record({ epoch: 3 }), view()), {
    action: 'publish',
    renew: false,
    next: role,
  });
});

test('a publisher whose successor goes silent before covering it takes the shard back at a higher epoch', (t) => {
  const role: Role = { role: 'yielding', epoch: 4, until: 2_000 };
  const silent = record({ holder: 'relay-c', epoch: 5, publishedTo: 1_500 });
  t.like(decideOwnership(role, silent, view({ sinceChangeMs: LEASE - 1 })), {
    action: 'publish',
    next: role,
  });
  t.like(decideOwnership(role, silent, view({ sinceChangeMs: LEASE })), {
    action: 'take-over',
    expectEpoch: 5,
    epoch: 6,
    next: { role: 'primary', epoch: 6 },
  });
  t.like(decideOwnership(role, silent, view({ rank: undefined, sinceChangeMs: LEASE })), {
    action: 'publish',
  });
});

// Whole sequences.

test('split brain: both publish until the higher epoch has published past the coverage of the lower', (t) => {
  let a: Role = { role: 'primary', epoch: 4 };
  const b: Role = { role: 'primary', epoch: 5 };
  const viewA = view({ self: 'relay-a', rank: 1 });
  const viewB = view({ self: 'relay-b', rank: 0 });
  const steps: Array<[number, number, string]> = [];
  for (const [bPublishedTo, aCoveredTo] of [
    [1_000, 3_000],
    [2_500, 3_100],
    [3_000, 3_200],
  ] as const) {
    const seen = record({ holder: 'relay-b', epoch: 5, publishedTo: bPublishedTo });
    const da = decideOwnership(a, seen, { ...viewA, coveredTo: aCoveredTo });
    const db = decideOwnership(b, seen, { ...viewB, coveredTo: bPublishedTo });
    t.like(db, { action: 'publish', renew: true, next: b }, 'the higher epoch never yields');
    steps.push([bPublishedTo, aCoveredTo, da.action]);
    a = da.next;
  }
  t.deepEqual(
    steps.map((s) => s[2]),
    ['publish', 'publish', 'step-down'],
  );
  t.deepEqual(a, STANDBY);
});

test('a paused primary: its standby takes over after a lease of local time, and the primary steps down on resuming', (t) => {
  // relay-b watches with its own monotonic clock; relay-a's renewedAt is its wall clock, skewed, and never compared.
  const held = (publishedTo: number, renewedAt: number) =>
    record({ holder: 'relay-a', epoch: 4, publishedTo, renewedAt });
  let watch: LeaseWatch | undefined;
  watch = watchRecord(watch, held(1_000, 9e12), 50);
  watch = watchRecord(watch, held(2_000, 9e12 + 2_000), 2_050);
  // relay-a is paused (SIGSTOP) from here: the record stops changing; a read fails in between.
  watch = watchRecord(watch, UNREADABLE, 9_000);
  watch = watchRecord(watch, held(2_000, 9e12 + 2_000), 12_000);
  const before = decideOwnership(
    STANDBY,
    held(2_000, 9e12 + 2_000),
    view({ sinceChangeMs: sinceChangeMs(watch, 17_049) }),
  );
  t.is(before.action, 'stand-by');
  const takeover = decideOwnership(
    STANDBY,
    held(2_000, 9e12 + 2_000),
    view({ sinceChangeMs: sinceChangeMs(watch, 17_050) }),
  );
  t.like(takeover, { action: 'take-over', epoch: 5, replayFrom: 2_000 });

  // relay-a resumes having published up to 2_400 (its last renewal said 2_000); relay-b replays from 2_000.
  let a: Role = { role: 'primary', epoch: 4 };
  const viewA = view({ self: 'relay-a', rank: 0, coveredTo: 2_400 });
  const after = (publishedTo: number) => record({ holder: 'relay-b', epoch: 5, publishedTo, renewedAt: 3 });
  let d = decideOwnership(a, after(2_100), viewA);
  t.like(d, { action: 'publish', renew: false, next: { role: 'yielding', epoch: 4, until: 2_400 } });
  a = d.next;
  d = decideOwnership(a, after(2_400), { ...viewA, coveredTo: 4_000 });
  t.like(d, { action: 'step-down', next: STANDBY });
});

// The lease watch.

test('the lease watch restarts at the first read and at every change, and not on an unchanged or failed read', (t) => {
  t.is(sinceChangeMs(undefined, 1e9), 0, 'never read: never expired');
  t.is(watchRecord(undefined, UNREADABLE, 5), undefined);
  let watch = watchRecord(undefined, ABSENT, 100);
  t.is(sinceChangeMs(watch, 400), 300);
  watch = watchRecord(watch, ABSENT, 200);
  t.is(sinceChangeMs(watch, 400), 300, 'still absent: unchanged');
  watch = watchRecord(watch, record(), 300);
  t.is(sinceChangeMs(watch, 400), 100, 'absent to a record is a change');
  for (const change of [{ renewedAt: 78 }, { publishedTo: 1_001 }, { epoch: 5 }, { holder: 'relay-c' }]) {
    const before = watchRecord(watch, record(), 1_000);
    t.is(sinceChangeMs(before, 1_000), 700, 'the same record again is no change');
    const after = watchRecord(before, record(change), 1_000);
    t.is(sinceChangeMs(after, 1_000), 0, `a change of ${Object.keys(change)[0]} restarts the timer`);
  }
  t.is(sinceChangeMs(watchRecord(watch, UNREADABLE, 5_000), 5_000), 4_700, 'a failed read is no evidence');
});
