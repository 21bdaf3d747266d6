export { startBigQueryStandin } from './server.ts';
export type { BigQueryStandin, BigQueryStandinOptions, StandinStats } from './server.ts';
export type { FaultConfig, InsertErrorRule } from './faults.ts';
export { makeBigQueryClient } from './client.ts';
export { jsonLineLogger, quietLogger } from './logger.ts';
export type { LogEntry, StandinLogger } from './logger.ts';
