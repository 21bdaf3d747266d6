// The local stack's relay fleet: each member's environment (the variables of functions/relay/config.ts)
// and the run's own Firestore collections, so parallel runs never share a fleet.
import type { TcpProxy } from './tcp-proxy.ts';

export interface LocalFleetOptions {
  /** RELAY_FLEET_LEASE_MS (default 5000, the relay's own default). */
  readonly leaseMs?: number;
  /** RELAY_FLEET_RENEW_MS (default: the relay's). */
  readonly renewMs?: number;
  /** RELAY_FLEET_MIN_SHARDS: least shards per exchange, to spread a small mix over the members. */
  readonly minShards?: number;
  /** Pools given to the members in turn (relay-1 the first); default none. */
  readonly pools?: readonly string[];
  /** The relays reach Firestore through a freezable TCP proxy (the control-plane-loss fault). */
  readonly firestoreProxy?: boolean;
}

export interface LocalFleet {
  readonly members: string;
  readonly shards: string;
  readonly leaseMs: number;
  /** Present with LocalFleetOptions.firestoreProxy: freeze it to cut the relays off Firestore. */
  readonly proxy: TcpProxy | undefined;
}

export function fleetCollections(suffix: string): { members: string; shards: string } {
  return { members: `relay_members_${suffix}`, shards: `relay_shards_${suffix}` };
}

/** The fleet variables of member `index` (0-based: relay-1 is index 0). */
export function fleetRelayEnv(
  fleet: LocalFleet,
  options: LocalFleetOptions,
  index: number,
): Record<string, string> {
  const pool = options.pools?.length ? options.pools[index % options.pools.length]! : '';
  return {
    RELAY_FLEET: 'on',
    RELAY_ID: `relay-${index + 1}`,
    RELAY_FLEET_LEASE_MS: String(fleet.leaseMs),
    ...(options.renewMs ? { RELAY_FLEET_RENEW_MS: String(options.renewMs) } : {}),
    RELAY_FLEET_MIN_SHARDS: String(options.minShards ?? 1),
    ...(pool ? { RELAY_FLEET_POOL: pool } : {}),
    MEMBERS_COLLECTION: fleet.members,
    SHARDS_COLLECTION: fleet.shards,
    ...(fleet.proxy ? { FIRESTORE_EMULATOR_HOST: fleet.proxy.host } : {}),
  };
}
