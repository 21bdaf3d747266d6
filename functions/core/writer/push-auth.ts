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

/**
 * Audiences a push token for this request may carry when none is configured: Pub/Sub's default
 * audience is the push endpoint URL, which is the URL the request was sent to (with or without the
 * trailing slash of the root path).
 */
export function audiencesForUrl(requestUrl: string): string[] {
  const url = new URL(requestUrl);
  const base = `${url.protocol}//${url.host}`;
  const path = url.pathname;
  const out = new Set([`${base}${path}`]);
  if (path === '/') out.add(base);
  else if (path.endsWith('/')) out.add(`${base}${path.slice(0, -1)}`);
  else out.add(`${base}${path}/`);
  return [...out];
}
