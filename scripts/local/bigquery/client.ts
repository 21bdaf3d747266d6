import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';

/**
 * An auth client that adds no credentials. The stand-in needs none, and with it the client never
 * looks for Application Default Credentials or asks a token server, so it works offline.
 * (google-auth-library keeps a given authClient and only calls getRequestHeaders on it.)
 */
const noCredentials = {
  getRequestHeaders: async (): Promise<Headers> => new Headers(),
};

/**
 * A real `@google-cloud/bigquery` client pointed at the stand-in (or any local BigQuery endpoint).
 * Note: if BIGQUERY_EMULATOR_HOST is set, the client uses it as its base URL instead of `url`.
 */
export function makeBigQueryClient(url: string, projectId: string, options: BigQueryOptions = {}): BigQuery {
  return new BigQuery({
    ...options,
    projectId,
    apiEndpoint: url,
    authClient: noCredentials as unknown as BigQueryOptions['authClient'],
  });
}
