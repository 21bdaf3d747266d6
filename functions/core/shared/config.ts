/**
 * One place for configuration: each option declares its environment variable, default and parser.
 * `readConfig` parses the environment once into a frozen object and fails with a ConfigError that names
 * the variable, so a bad deployment stops at start instead of misbehaving later.
 */
import { errorMessage } from './errors.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${variable}: ${message}`, options);
  }
}

export interface Option<T> {
  readonly env: string;
  readonly description: string;
  /** Used when the variable is unset or empty; an option without a default is required. */
  readonly default?: T;
  readonly parse: (raw: string) => T;
}

type ValueOf<O> = O extends Option<infer T> ? T : never;
export type ConfigOf<S extends Record<string, Option<unknown>>> = { readonly [K in keyof S]: ValueOf<S[K]> };

export function readConfig<S extends Record<string, Option<unknown>>>(
  spec: S,
  env: Readonly<Record<string, string | undefined>>,
): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(spec)) {
    const raw = env[option.env];
    if (raw === undefined || raw.trim() === '') {
      if (!('default' in option)) throw new ConfigError(option.env, `is required (${option.description})`);
      out[key] = option.default;
      continue;
    }
    try {
      out[key] = option.parse(raw.trim());
    } catch (error) {
      const why = errorMessage(error);
      throw new ConfigError(option.env, `invalid value ${JSON.stringify(raw)}: ${why}`, { cause: error });
    }
  }
  return Object.freeze(out) as ConfigOf<S>;
}

export const parse = {
  string: (raw: string): string => raw,
  int:
    (min: number, max: number) =>
    (raw: string): number => {
      if (!/^-?\d+$/.test(raw)) throw new Error('expected an integer');
      const value = Number(raw);
      if (value < min || value > max) throw new Error(`expected an integer in [${min}, ${max}]`);
      return value;
    },
  number:
    (min: number, max: number) =>
    (raw: string): number => {
      const value = Number(raw);
      if (!Number.isFinite(value) || value < min || value > max) {
        throw new Error(`expected a number in [${min}, ${max}]`);
      }
      return value;
    },
  bool: (raw: string): boolean => {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new Error('expected true or false');
  },
  oneOf:
    <T extends string>(...values: T[]) =>
    (raw: string): T => {
      if (!(values as string[]).includes(raw)) throw new Error(`expected one of ${values.join(', ')}`);
      return raw as T;
    },
};
