/**
 * The names of every cloud resource the pipeline uses, declared once. infra/ mirrors these names and
 * test/integration/infra checks that it does. A suffix gives each test run its own isolated set.
 */
export interface Topology {
  readonly topic: string;
  readonly pushSubscription: string;
  readonly deadLetterTopic: string;
  readonly deadLetterSubscription: string;
  readonly dataset: string;
  readonly checkpoints: string;
  readonly heartbeats: string;
  readonly gaps: string;
  readonly leases: string;
}

export const DEFAULT_TOPOLOGY: Topology = Object.freeze({
  topic: 'ticks',
  pushSubscription: 'ticks-writer',
  deadLetterTopic: 'ticks-dead-letter',
  deadLetterSubscription: 'ticks-dead-letter-hold',
  dataset: 'tickstream',
  checkpoints: 'checkpoints',
  heartbeats: 'relay_heartbeats',
  gaps: 'gaps',
  leases: 'leases',
});

/** A copy of the topology with every name made unique by `suffix` (letters, digits, underscores). */
export function isolatedTopology(suffix: string): Topology {
  if (!/^[a-z0-9_]+$/i.test(suffix)) throw new Error(`topology suffix "${suffix}" must be [A-Za-z0-9_]+`);
  const out: Record<string, string> = {};
  for (const [key, name] of Object.entries(DEFAULT_TOPOLOGY)) {
    // Pub/Sub names allow dashes, BigQuery dataset names do not: an underscore suits both.
    out[key] = `${name}_${suffix}`;
  }
  return Object.freeze(out as unknown as Topology);
}
