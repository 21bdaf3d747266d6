import type { AuthDecision, PushAuthenticator } from '../../../functions/core/ports.ts';
import {
  authorizePushClaims,
  bearerToken,
  type PushClaims,
} from '../../../functions/core/writer/push-auth.ts';

/**
 * A PushAuthenticator double: tokens are issued here (no signatures); a token issued for another audience
 * than the configured one is refused, and the claims of a known token pass the core's identity check.
 */
export class MemoryPushAuthenticator implements PushAuthenticator {
  private readonly issued = new Map<string, { claims: PushClaims; audience: string }>();
  constructor(
    private readonly serviceAccount: string,
    private readonly audience: string,
  ) {}

  /** A new bearer token carrying `claims`, for `audience` (default: the configured one). */
  issue(claims: PushClaims, audience = this.audience): string {
    const token = `token-${this.issued.size + 1}`;
    this.issued.set(token, { claims, audience });
    return token;
  }

  async authenticate(authorization: string | undefined): Promise<AuthDecision> {
    const token = bearerToken(authorization);
    if (!token) return { ok: false, status: 401, reason: 'no bearer token' };
    const entry = this.issued.get(token);
    if (!entry) return { ok: false, status: 401, reason: 'invalid token: unknown' };
    if (entry.audience !== this.audience) {
      return { ok: false, status: 401, reason: 'invalid token: wrong audience' };
    }
    return authorizePushClaims(entry.claims, this.serviceAccount);
  }
}
