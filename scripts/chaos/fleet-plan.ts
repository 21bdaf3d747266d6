// The relay fleet's chaos faults (docs/RELIABILITY.md, "Relay fleet"): what each one does, its seeded
// parameters and how long it disturbs the fleet. They need a fleet stack (scripts/local/relay-fleet.ts).

export const FLEET_FAULT_KINDS = [
  'primary-kill',
  'primary-pause',
  'fleet-redeploy',
  'scale-out',
  'scale-in',
  'control-plane-loss',
  'replicas-lost',
] as const;

export type FleetFaultKind = (typeof FLEET_FAULT_KINDS)[number];

export type FleetFaultSpec =
  /** SIGKILL the primary of some shards (the member `pick` selects among primaries); restarted after the take-over. */
  | { readonly kind: 'primary-kill'; readonly pick: number }
  /** SIGSTOP a primary for `pauseMs` (past its lease), then SIGCONT: it must step down. */
  | { readonly kind: 'primary-pause'; readonly pick: number; readonly pauseMs: number }
  /** Every member replaced one by one, the new one ready before the old one gets SIGTERM. */
  | { readonly kind: 'fleet-redeploy' }
  /** N -> N + 1 members; then N + 1 -> N (the newest leaves with SIGTERM). */
  | { readonly kind: 'scale-out' | 'scale-in' }
  /** The relays' Firestore path frozen for `lengthMs` (the writer's is not). */
  | { readonly kind: 'control-plane-loss'; readonly lengthMs: number }
  /** Every replica of one shard SIGKILLed at once, restarted after `downMs`: the hole is the gap-filler's. */
  | { readonly kind: 'replicas-lost'; readonly pick: number; readonly downMs: number };

export function isFleetFault(kind: string): kind is FleetFaultKind {
  return (FLEET_FAULT_KINDS as readonly string[]).includes(kind);
}

/** How long a fleet fault keeps the fleet disturbed, as planned (a take-over or a handover takes a lease). */
export function fleetPlannedLength(spec: FleetFaultSpec, leaseMs: number): number {
  switch (spec.kind) {
    case 'primary-kill':
      return leaseMs + 4_000;
    case 'primary-pause':
      return spec.pauseMs + 2_000;
    case 'fleet-redeploy':
      return 3 * 6_000;
    case 'scale-out':
    case 'scale-in':
      return 6_000;
    case 'control-plane-loss':
      return spec.lengthMs;
    case 'replicas-lost':
      return spec.downMs + 5_000;
  }
}

/** One fleet fault's seeded parameters. */
export function fleetSpecFor(
  kind: FleetFaultKind,
  random: () => number,
  leaseMs: number,
  outageMs: number,
): FleetFaultSpec {
  const pick = Math.floor(random() * 1_000);
  switch (kind) {
    case 'primary-kill':
      return { kind, pick };
    case 'primary-pause':
      return { kind, pick, pauseMs: leaseMs + 1_000 + Math.round(random() * 1_000) };
    case 'fleet-redeploy':
    case 'scale-out':
    case 'scale-in':
      return { kind };
    case 'control-plane-loss':
      return { kind, lengthMs: outageMs };
    case 'replicas-lost':
      return { kind, pick, downMs: 500 + Math.round(random() * 1_500) };
  }
}
