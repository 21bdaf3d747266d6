import { invalid } from './errors.ts';
import { seededRandom } from '../seeded-random.ts';

/** Makes chosen insertAll rows fail, by insertId or by field values of the row's json. */
export interface InsertErrorRule {
  /** Rows whose insertId is one of these. */
  insertIds?: string[];
  /** Rows whose json has all these values; keys may be dotted paths ('trade.symbol'). */
  match?: Record<string, unknown>;
  /** Only rows sent to this table: 'dataset.table' or just 'table'. */
  table?: string;
  /** 'invalid' is permanent and stops the other rows like a schema error; others ('backendError', 'timeout') are transient. */
  reason?: string;
  message?: string;
  /** How many insertAll requests the rule affects before it is spent; unlimited when absent. */
  times?: number;
}

/** Faults a test can set at run time, programmatically or with POST /_standin/faults. */
export interface FaultConfig {
  /** Share (0..1) of matching requests answered with an error status instead of being served. */
  errorRate?: number;
  /** The status, or statuses to pick from with the seeded PRNG, for errorRate (default 503). */
  errorStatus?: number | number[];
  /** Delay added before matching requests are served. */
  latencyMs?: number;
  /** Share (0..1) of matching requests that are accepted and never answered (until stop()). */
  timeoutRate?: number;
  /** errorRate, latencyMs and timeoutRate apply only to paths matching this RegExp source (e.g. 'insertAll$'). */
  pathPattern?: string;
  /** ... and only to these HTTP methods. */
  methods?: string[];
  insertErrors?: InsertErrorRule[];
  /** PRNG seed, so a run with the same requests injects the same faults (default 1). */
  seed?: number;
}

/** What to do with one request before it is served. */
export interface GateDecision {
  delayMs: number;
  hang: boolean;
  errorStatus?: number;
}

/** A row error to report for an insertAll row. */
export interface InjectedRowError {
  reason: string;
  message: string;
}

export interface FaultCounters {
  errors: number;
  timeouts: number;
  delayed: number;
  insertErrors: number;
}

function checkRate(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !(value >= 0 && value <= 1))) {
    throw invalid(`Fault ${name} must be a number from 0 to 1`);
  }
}

function valueAt(json: unknown, path: string): unknown {
  let current = json;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

const sameValue = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Holds the current faults and decides, request by request, which to inject. */
export class FaultInjector {
  #config: FaultConfig = {};
  #pattern: RegExp | undefined;
  #random = seededRandom(1);
  #remaining: (number | undefined)[] = [];
  readonly counters: FaultCounters = { errors: 0, timeouts: 0, delayed: 0, insertErrors: 0 };

  /** Replaces the current faults (validated; an invalid config leaves the old one in place). */
  set(config: FaultConfig): void {
    checkRate('errorRate', config.errorRate);
    checkRate('timeoutRate', config.timeoutRate);
    const statuses = config.errorStatus === undefined ? [] : [config.errorStatus].flat();
    if (statuses.some((s) => !Number.isInteger(s) || s < 400 || s > 599)) {
      throw invalid('Fault errorStatus must be HTTP error codes (400-599)');
    }
    if (config.latencyMs !== undefined && !(config.latencyMs >= 0))
      throw invalid('Fault latencyMs must be >= 0');
    let pattern: RegExp | undefined;
    try {
      pattern = config.pathPattern ? new RegExp(config.pathPattern) : undefined;
    } catch (error) {
      throw invalid(`Fault pathPattern is not a valid RegExp: ${String(error)}`);
    }
    const rules = config.insertErrors ?? [];
    if (!Array.isArray(rules) || rules.some((r) => typeof r !== 'object' || r === null)) {
      throw invalid('Fault insertErrors must be a list of rules');
    }
    this.#config = structuredClone(config);
    this.#pattern = pattern;
    this.#random = seededRandom(config.seed ?? 1);
    this.#remaining = rules.map((r) => r.times);
  }

  clear(): void {
    this.set({});
  }

  /** The current config, with each insertErrors rule's remaining `times`. */
  current(): FaultConfig {
    const config = structuredClone(this.#config);
    config.insertErrors?.forEach((rule, i) => {
      if (rule.times !== undefined) rule.times = this.#remaining[i];
    });
    return config;
  }

  #applies(method: string, path: string): boolean {
    const { methods } = this.#config;
    if (methods && !methods.some((m) => m.toUpperCase() === method.toUpperCase())) return false;
    return this.#pattern ? this.#pattern.test(path) : true;
  }

  /** Draws the faults for one API request (control endpoints never reach here). */
  gate(method: string, path: string): GateDecision {
    const decision: GateDecision = { delayMs: 0, hang: false };
    if (!this.#applies(method, path)) return decision;
    const { latencyMs = 0, timeoutRate = 0, errorRate = 0, errorStatus = 503 } = this.#config;
    if (latencyMs > 0) {
      decision.delayMs = latencyMs;
      this.counters.delayed += 1;
    }
    if (timeoutRate > 0 && this.#random() < timeoutRate) {
      decision.hang = true;
      this.counters.timeouts += 1;
      return decision;
    }
    if (errorRate > 0 && this.#random() < errorRate) {
      const statuses = [errorStatus].flat();
      decision.errorStatus = statuses[Math.floor(this.#random() * statuses.length)] ?? 503;
      this.counters.errors += 1;
    }
    return decision;
  }

  /** Injected errors for the rows of one insertAll request, by row index. */
  insertErrorsFor(
    datasetId: string,
    tableId: string,
    rows: readonly { insertId?: unknown; json?: unknown }[],
  ): Map<number, InjectedRowError> {
    const result = new Map<number, InjectedRowError>();
    const rules = this.#config.insertErrors ?? [];
    rules.forEach((rule, r) => {
      const remaining = this.#remaining[r];
      if (remaining !== undefined && remaining <= 0) return;
      if (rule.table && rule.table !== tableId && rule.table !== `${datasetId}.${tableId}`) return;
      let fired = false;
      rows.forEach((row, i) => {
        if (result.has(i)) return;
        const byId = rule.insertIds?.includes(String(row.insertId)) ?? false;
        const byMatch =
          rule.match !== undefined &&
          Object.entries(rule.match).every(([path, value]) => sameValue(valueAt(row.json, path), value));
        if (!byId && !byMatch) return;
        const reason = rule.reason ?? 'invalid';
        result.set(i, { reason, message: rule.message ?? `Injected ${reason} error` });
        fired = true;
      });
      if (fired && remaining !== undefined) this.#remaining[r] = remaining - 1;
    });
    this.counters.insertErrors += result.size;
    return result;
  }
}
