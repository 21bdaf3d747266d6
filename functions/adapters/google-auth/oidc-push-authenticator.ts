import { OAuth2Client } from 'google-auth-library';
import type { AuthDecision, PushAuthenticator } from '../../core/ports.ts';
import { authorizePushClaims, bearerToken } from '../../core/writer/push-auth.ts';
import { errorMessage } from '../../core/shared/errors.ts';

export interface OidcPushAuthOptions {
  /** The service account Pub/Sub signs push tokens as (the subscription's `oidc_token`). */
  readonly serviceAccount: string;
  /** The audience tokens must carry (the subscription's `oidc_token.audience`); never taken from the request. */
  readonly audience: string;
  /** Where Google's token signing certificates are fetched (tests serve their own). */
  readonly certsUrl?: string;
}

/**
 * The PushAuthenticator on google-auth-library: `OAuth2Client.verifyIdToken` checks signature (Google's
 * certificates, cached as long as Google says), issuer, expiry and audience; the core then checks the
 * identity. Cloud Run already refuses callers without the invoker role; this is defence in depth should
 * the service ever be opened.
 */
export class OidcPushAuthenticator implements PushAuthenticator {
  private readonly client: OAuth2Client;

  constructor(private readonly options: OidcPushAuthOptions) {
    this.client = new OAuth2Client(
      options.certsUrl ? { endpoints: { oauth2FederatedSignonPemCertsUrl: options.certsUrl } } : {},
    );
  }

  async authenticate(authorization: string | undefined): Promise<AuthDecision> {
    const idToken = bearerToken(authorization);
    if (!idToken) return { ok: false, status: 401, reason: 'no bearer token' };
    let claims;
    try {
      const ticket = await this.client.verifyIdToken({ idToken, audience: this.options.audience });
      claims = ticket.getPayload();
    } catch (error) {
      const message = errorMessage(error);
      // Not being able to fetch Google's certificates is our outage, not a bad token.
      if (message.startsWith('Failed to retrieve verification certificates')) {
        return { ok: false, status: 503, reason: message };
      }
      // The library quotes the token in some messages; never log a credential.
      const safe = message.replace(/[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g, '<token>').slice(0, 300);
      return { ok: false, status: 401, reason: `invalid token: ${safe}` };
    }
    return authorizePushClaims(claims, this.options.serviceAccount);
  }
}
