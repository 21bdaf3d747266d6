import type { AuthDecision } from '../ports.ts';

/** The claims of a verified push OIDC token that the writer checks. */
export interface PushClaims {
  readonly email?: unknown;
  readonly email_verified?: unknown;
}

/** The identity check on a token whose signature, audience and expiry were already verified. */
export function authorizePushClaims(claims: PushClaims | undefined, serviceAccount: string): AuthDecision {
  if (!claims) return { ok: false, status: 401, reason: 'token has no payload' };
  if (typeof claims.email !== 'string' || claims.email === '') {
    return { ok: false, status: 403, reason: 'token has no email claim' };
  }
  if (claims.email_verified !== true)
    return { ok: false, status: 403, reason: 'token email is not verified' };
  if (claims.email.toLowerCase() !== serviceAccount.toLowerCase()) {
    return { ok: false, status: 403, reason: `token email ${claims.email} is not the push service account` };
  }
  return { ok: true };
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}
