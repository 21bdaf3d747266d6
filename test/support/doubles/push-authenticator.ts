import type { AuthDecision, PushAuthenticator } from '../../../functions/core/ports.ts';
import {
  audiencesForUrl,
  authorizePushClaims,
  bearerToken,
  type PushClaims,
} from '../../../functions/core/writer/push-auth.ts';

/**
 * A PushAuthenticator double: tokens are issued here (no signatures); a token issued for an audience is
 * refused on requests to another URL, and the claims of a known token pass the core's identity check.
 */
export class MemoryPushAuthenticator implements PushAuthenticator {
  private readonly issued = new Map<string, { claims: PushClaims; audience: string | undefined }>();
  constructor(private readonly serviceAccount: string) {}

  /** A new bearer token carrying `claims`. */
  issue(claims: PushClaims, audience?: string): string {
    const token = `token-${this.issued.size + 1}`;
    this.issued.set(token, { claims, audience });
    return token;
  }

  async authenticate(authorization: string | undefined, requestUrl: string): Promise<AuthDecision> {
    const token = bearerToken(authorization);
    if (!token) return { ok: false, status: 401, reason: 'no bearer token' };
    const entry = this.issued.get(token);
    if (!entry) return { ok: false, status: 401, reason: 'invalid token: unknown' };
    if (entry.audience !== undefined && !audiencesForUrl(requestUrl).includes(entry.audience)) {
      return { ok: false, status: 401, reason: 'invalid token: wrong audience' };
    }
    return authorizePushClaims(entry.claims, this.serviceAccount);
  }
}
