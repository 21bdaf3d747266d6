import { BigQuery as BigQueryClient, type BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';

/**
 * An auth client that adds no credentials: a local BigQuery stand-in needs none, and with it the client
 * never looks for Application Default Credentials or a token server, so it works offline.
 */
const noCredentials = { getRequestHeaders: async (): Promise<Headers> => new Headers() };

export interface BigQueryClientOptions {
  /**
   * Whether the client itself retries failed requests (5xx, 429, network; 3 times with backoff up to
   * 64 s). Default true. The writer turns it off: its own loop retries only the failed rows, within
   * a deadline below the push ack deadline.
   */
  readonly autoRetry?: boolean;
}

/**
 * A BigQuery client: with `endpoint` it talks to a local stand-in without credentials, otherwise to
 * BigQuery with Application Default Credentials.
 */
export function createBigQueryClient(
  projectId: string,
  endpoint?: string,
  options: BigQueryClientOptions = {},
): BigQuery {
  const retry = options.autoRetry === false ? { retryOptions: { autoRetry: false } } : {};
  if (!endpoint) return new BigQueryClient({ projectId, ...retry });
  return new BigQueryClient({
    projectId,
    apiEndpoint: endpoint,
    authClient: noCredentials as unknown as BigQueryOptions['authClient'],
    ...retry,
  });
}
