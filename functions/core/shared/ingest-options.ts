/**
 * Which BigQuery API stores rows, for the writer and the gap-filler alike: the Storage Write API
 * (default, decisions/0025) or legacy streaming insertAll (the configured fallback).
 */
import { ConfigError, parse } from './config.ts';

export const INGEST_OPTIONS = {
  ingest: {
    env: 'WRITER_INGEST',
    description:
      "How rows are stored: 'storage-write' (BigQuery Storage Write API, _default stream) or 'insert-all' (legacy streaming)",
    default: 'storage-write' as const,
    parse: parse.oneOf('storage-write', 'insert-all'),
  },
  storageEmulatorHost: {
    env: 'BIGQUERY_STORAGE_EMULATOR_HOST',
    description:
      'host:port of a local Storage Write API stand-in (plaintext, no credentials; empty in the cloud)',
    default: '',
    parse: parse.string,
  },
} as const;

export interface IngestConfig {
  readonly projectId: string;
  readonly dataset: string;
  readonly bigqueryEndpoint: string;
  readonly ingest: 'storage-write' | 'insert-all';
  readonly storageEmulatorHost: string;
}

/** A local REST endpoint with the Storage Write API would send rows to Google: refuse to start. */
export function checkIngestConfig(config: IngestConfig): void {
  if (
    config.ingest === 'storage-write' &&
    config.bigqueryEndpoint !== '' &&
    config.storageEmulatorHost === ''
  ) {
    throw new ConfigError(
      'BIGQUERY_STORAGE_EMULATOR_HOST',
      'is required with BIGQUERY_API_ENDPOINT when WRITER_INGEST=storage-write (or set WRITER_INGEST=insert-all)',
    );
  }
}
