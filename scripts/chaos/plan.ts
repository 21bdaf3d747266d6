// The chaos schedule: which faults a scenario injects, when (offsets into the fault phase) and with
// which parameters, all drawn from the seed. Pure, so a seed always gives the same schedule.
import { seededRandom } from '../local/seeded-random.ts';
import {
  FLEET_FAULT_KINDS,
  fleetPlannedLength,
  fleetSpecFor,
  isFleetFault,
  type FleetFaultKind,
  type FleetFaultSpec,
} from './fleet-plan.ts';

export const FAULT_KINDS = [
  'relay-kill',
  'relay-redeploy',
  'writer-kill',
  'bigquery-brownout',
  'firestore-outage',
  'pubsub-outage',
  'exchange-flaps',
  'poison-messages',
] as const;

/** `fleet`: every fleet fault in sequence on one fleet stack; `all`: every fault, on a fleet stack. */
export type FaultKind = (typeof FAULT_KINDS)[number] | FleetFaultKind;
export type ScenarioName = FaultKind | 'fleet' | 'all';
export const SCENARIOS: readonly ScenarioName[] = [...FAULT_KINDS, ...FLEET_FAULT_KINDS, 'fleet', 'all'];
/** What `all` draws from: every fault, so it runs on a fleet (usesFleet). */
const EVERY_KIND: readonly FaultKind[] = [...FAULT_KINDS, ...FLEET_FAULT_KINDS];
/** The `fleet` scenario's order: the gap-filler's backstop (replicas-lost) last. */
export const FLEET_ORDER: readonly FleetFaultKind[] = [
  'primary-kill',
  'primary-pause',
  'control-plane-loss',
  'scale-out',
  'scale-in',
  'fleet-redeploy',
  'replicas-lost',
];

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

/** One exchange event of a disconnect storm. */
export interface FlapEvent {
  /** Offset from the storm's start. */
  readonly atMs: number;
  /** terminate: socket destroyed; close: 1001 close frame; refuse: new upgrades answered 503 for refuseMs, then terminate. */
  readonly action: 'terminate' | 'close' | 'refuse';
  readonly refuseMs: number;
}

export type PoisonKind =
  | 'not-json'
  | 'binary'
  | 'empty'
  | 'wrong-version'
  | 'not-an-object'
  | 'truncated'
  | 'bad-field'
  | 'future-window'
  | 'bad-ticks';

export const POISON_KINDS: readonly PoisonKind[] = [
  'not-json',
  'binary',
  'empty',
  'wrong-version',
  'not-an-object',
  'truncated',
  'bad-field',
  'future-window',
  'bad-ticks',
];

export type FaultSpec =
  | { readonly kind: 'relay-kill' | 'writer-kill'; readonly downMs: number }
  | { readonly kind: 'relay-redeploy' }
  | {
      readonly kind: 'bigquery-brownout';
      readonly lengthMs: number;
      /** Share of insertAll requests answered 5xx, and share never answered (the writer times out). */
      readonly errorShare: number;
      readonly timeoutShare: number;
    }
  | { readonly kind: 'firestore-outage' | 'pubsub-outage'; readonly lengthMs: number }
  | { readonly kind: 'exchange-flaps'; readonly events: readonly FlapEvent[] }
  | {
      readonly kind: 'poison-messages';
      readonly messages: readonly { readonly atMs: number; readonly poison: PoisonKind }[];
    }
  | FleetFaultSpec;

export interface PlannedFault {
  /** Offset from the start of the fault phase. */
  readonly atMs: number;
  readonly spec: FaultSpec;
}

export interface PlanOptions {
  /** Length of the fault phase; a fault that needs longer (an outage) extends it. */
  readonly durationMs: number;
  /** How long an emulator stays frozen. */
  readonly outageMs: number;
  /** The fleet's lease (RELAY_FLEET_LEASE_MS): a take-over or a pause is planned around it. Default 5 s. */
  readonly leaseMs?: number;
  /** How long control-plane-loss cuts the relays off Firestore (default 20 s). */
  readonly controlPlaneLossMs?: number;
}

export interface Plan {
  readonly scenario: ScenarioName;
  readonly seed: number;
  readonly faults: readonly PlannedFault[];
  /** When the fault phase ends: after the last fault's planned end. */
  readonly phaseMs: number;
}

/** Whether a plan needs a fleet of relays (a fleet fault, or the `fleet` scenario). */
export function usesFleet(plan: Plan): boolean {
  return plan.scenario === 'fleet' || plan.faults.some((f) => isFleetFault(f.spec.kind));
}

/** Whether a plan freezes an emulator (so the run needs a private emulator pair). */
export function freezesEmulators(plan: Plan): boolean {
  return plan.faults.some((f) => f.spec.kind === 'firestore-outage' || f.spec.kind === 'pubsub-outage');
}

/** The planned length of one fault (how long it keeps the system disturbed). */
export function plannedLength(spec: FaultSpec, leaseMs = 5_000): number {
  if (isFleetSpec(spec)) return fleetPlannedLength(spec, leaseMs);
  switch (spec.kind) {
    case 'relay-kill':
    case 'writer-kill':
      return spec.downMs;
    case 'relay-redeploy':
      return 5_000; // start of the new instance until the old one has drained
    case 'bigquery-brownout':
    case 'firestore-outage':
    case 'pubsub-outage':
      return spec.lengthMs;
    case 'exchange-flaps':
      return Math.max(0, ...spec.events.map((e) => e.atMs + (e.action === 'refuse' ? e.refuseMs : 0)));
    case 'poison-messages':
      return Math.max(0, ...spec.messages.map((m) => m.atMs));
  }
}

function isFleetSpec(spec: FaultSpec): spec is FleetFaultSpec {
  return isFleetFault(spec.kind);
}

type Random = () => number;
const between = (random: Random, min: number, max: number) => Math.round(min + random() * (max - min));

/** One occurrence of a fault kind, fitted into about `slotMs`. */
function specFor(kind: FaultKind, random: Random, slotMs: number, options: PlanOptions): FaultSpec {
  const outageMs = options.outageMs;
  if (isFleetFault(kind))
    return fleetSpecFor(kind, random, options.leaseMs ?? 5_000, options.controlPlaneLossMs ?? 20_000);
  switch (kind) {
    case 'relay-kill':
    case 'writer-kill':
      // The platform notices a crashed instance and starts another within a few seconds.
      return { kind, downMs: between(random, 200, 2_000) };
    case 'relay-redeploy':
      return { kind };
    case 'bigquery-brownout':
      return {
        kind,
        lengthMs: Math.round(Math.min(20_000, Math.max(3_000, slotMs * (0.4 + 0.2 * random())))),
        errorShare: 0.15,
        timeoutShare: 0.15,
      };
    case 'firestore-outage':
    case 'pubsub-outage':
      return { kind, lengthMs: outageMs };
    case 'exchange-flaps': {
      const events: FlapEvent[] = [];
      const count = between(random, 3, 6);
      let at = 0;
      for (let i = 0; i < count; i++) {
        const pick = random();
        const action = pick < 0.4 ? 'terminate' : pick < 0.7 ? 'close' : 'refuse';
        const refuseMs = action === 'refuse' ? between(random, 1_000, 4_000) : 0;
        events.push({ atMs: at, action, refuseMs });
        at += refuseMs + between(random, 300, 2_500);
      }
      return { kind, events };
    }
    case 'poison-messages': {
      const count = Math.max(POISON_KINDS.length, Math.round(slotMs / 400));
      const messages = Array.from({ length: count }, (_, i) => ({
        atMs: Math.round(random() * Math.max(1_000, slotMs * 0.8)),
        // Every kind at least once, then random ones.
        poison:
          i < POISON_KINDS.length
            ? POISON_KINDS[i]!
            : POISON_KINDS[Math.floor(random() * POISON_KINDS.length)]!,
      })).sort((a, b) => a.atMs - b.atMs);
      return { kind, messages };
    }
  }
}

/** How many times a single-kind scenario injects its fault in a phase of `durationMs`. */
function occurrences(kind: FaultKind, durationMs: number): number {
  if (isFleetFault(kind)) return 1;
  if (kind === 'relay-kill' || kind === 'writer-kill' || kind === 'relay-redeploy') {
    return durationMs >= 40_000 ? 3 : durationMs >= 20_000 ? 2 : 1;
  }
  if (kind === 'exchange-flaps') return durationMs >= 40_000 ? 2 : 1;
  return 1;
}

/**
 * The schedule for a scenario. A single-kind scenario spreads its occurrences over the phase, one per
 * slot at a seeded offset; `all` draws a random sequence of kinds (each at least once when the duration
 * allows) with seeded pauses of 6-12 s between them (2-4 s in runs shorter than a minute), so each
 * recovery can be measured on its own.
 */
export function planScenario(scenario: ScenarioName, seed: number, options: PlanOptions): Plan {
  const random = seededRandom(seed ^ 0x5eed);
  const lease = options.leaseMs ?? 5_000;
  const faults: PlannedFault[] = [];
  // Short runs (the test suite) keep shorter pauses; recoveries may then overlap the next fault.
  const pause = () =>
    options.durationMs < 60_000 ? between(random, 2_000, 4_000) : between(random, 6_000, 12_000);
  if (scenario === 'fleet') {
    // Every fleet fault once, in sequence on one fleet.
    let cursor = between(random, 0, 1_000);
    for (const kind of FLEET_ORDER) {
      const spec = specFor(kind, random, 10_000, options);
      faults.push({ atMs: cursor, spec });
      cursor += plannedLength(spec, lease) + pause();
    }
  } else if (scenario !== 'all') {
    const n = occurrences(scenario, options.durationMs);
    const slot = options.durationMs / n;
    for (let i = 0; i < n; i++) {
      const spec = specFor(scenario, random, slot, options);
      const room = Math.max(0, slot - plannedLength(spec, lease));
      faults.push({ atMs: Math.round(i * slot + random() * room * 0.5), spec });
    }
  } else {
    // Every kind once in a seeded order, then more random kinds while the duration lasts.
    const order = [...EVERY_KIND];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let cursor = between(random, 0, 2_000);
    for (let i = 0; ; i++) {
      const kind = i < order.length ? order[i]! : EVERY_KIND[Math.floor(random() * EVERY_KIND.length)]!;
      const spec = specFor(kind, random, 10_000, options);
      faults.push({ atMs: cursor, spec });
      cursor += plannedLength(spec, lease) + pause();
      // A short `all` still runs at least three faults.
      if (faults.length >= 3 && cursor >= options.durationMs) break;
    }
  }
  const end = Math.max(0, ...faults.map((f) => f.atMs + plannedLength(f.spec, lease)));
  return { scenario, seed, faults, phaseMs: Math.max(options.durationMs, end) };
}
