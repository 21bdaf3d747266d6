/** What the three composition roots share: log lines to stdout, and a configuration or a clean exit. */
import { ConfigError } from '../../core/shared/config.ts';
import { jsonLogger } from '../../core/shared/logger.ts';

/** EX_CONFIG: the configuration is wrong (a bad entry, or a stream the exchange refuses); restarting will not help. */
export const EXIT_CONFIG = 78;

/** One JSON log line to stdout, where Cloud Logging reads it. */
export const writeLine = (line: string): void => {
  process.stdout.write(line + '\n');
};

/** Reads the configuration, or logs the bad variable at CRITICAL and exits with EX_CONFIG (nothing has started yet). */
export function loadConfigOrExit<C>(read: (env: NodeJS.ProcessEnv) => C): C {
  try {
    return read(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    jsonLogger(writeLine).log('CRITICAL', `invalid configuration: ${error.message}`, {
      variable: error.variable,
    });
    process.exit(EXIT_CONFIG);
  }
}
