import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { BigQuery } from '@google-cloud/bigquery';

/** Requests to the client's endpoint with its credentials, sent with Node's HTTP agent (keep-alive). */
export class DirectHttp {
  constructor(private readonly bigquery: BigQuery) {}

  private agent: HttpAgent | HttpsAgent | undefined;

  /** The client's base URL for this project (resolving a `{{projectId}}` placeholder once). */
  async projectUrl(): Promise<string> {
    const { bigquery } = this;
    const projectId = bigquery.projectId.includes('{{') ? await bigquery.getProjectId() : bigquery.projectId;
    return `${bigquery.baseUrl}/projects/${encodeURIComponent(projectId)}`;
  }

  /**
   * Sends one request to the client's endpoint with the client's credentials on a keep-alive agent, and
   * destroys it at `timeoutMs`: a deadline for the whole exchange, not an idle timeout, so a slow trickle
   * cannot outlast it. Resolves with the parsed JSON body of a 2xx answer; rejects with `code` = status.
   */
  async send(
    method: 'GET' | 'POST',
    target: string,
    body: string | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<unknown> {
    const url = new URL(target);
    const headers: Record<string, string> = {};
    (await this.bigquery.authClient.getRequestHeaders(url.toString())).forEach((value, key) => {
      headers[key] = value;
    });
    headers['user-agent'] = `tickstream (${what} direct)`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const https = url.protocol === 'https:';
    this.agent ??= https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    const request = https ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      const timer = setTimeout(
        () => req.destroy(new Error(`${what} timed out after ${timeoutMs} ms`)),
        Math.max(0, timeoutMs),
      );
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.end(body);
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (status < 200 || status > 299) {
      const message =
        (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? text.slice(0, 300);
      throw Object.assign(new Error(message || `HTTP ${status}`), { code: status });
    }
    return parsed ?? {};
  }
}
