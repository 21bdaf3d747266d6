/** Builds the Warehouse that stores rows by the configured ingestion API (core/shared/ingest-options.ts). */
import type { Logger, Warehouse } from '../../core/ports.ts';
import type { IngestConfig } from '../../core/shared/ingest-options.ts';
import type { BigQueryWarehouse } from './warehouse.ts';
import { createWriterClient, StorageWriteWarehouse } from './storage-write.ts';

/** The warehouse that stores rows by the configured API; queries always go through `rest`. */
export function ingestWarehouse(
  config: IngestConfig,
  rest: BigQueryWarehouse,
  appendTimeoutMs: number,
  logger: Logger,
): Warehouse & { close?(): void } {
  if (config.ingest === 'insert-all') return rest;
  const client = createWriterClient(config.projectId, config.storageEmulatorHost || undefined);
  return new StorageWriteWarehouse(client, config.projectId, config.dataset, rest, {
    appendTimeoutMs,
    logger,
  });
}
