import test from 'ava';
import { OAuth2Client } from 'google-auth-library';
import { ConfigError } from '../../functions/core/shared/config.ts';
import { authorizePushClaims, bearerToken } from '../../functions/core/writer/push-auth.ts';
import { readWriterConfig } from '../../functions/writer/config.ts';
import { tokenSigner } from '../support/oidc.ts';

const PUSHER = 'push-invoker@proj.iam.gserviceaccount.com';
const AUDIENCE = 'https://tickstream-writer-abc123-ew.a.run.app';
const ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

test('only a verified email of the push service account is authorized', (t) => {
  t.deepEqual(authorizePushClaims({ email: PUSHER, email_verified: true }, PUSHER), { ok: true });
  t.deepEqual(authorizePushClaims({ email: PUSHER.toUpperCase(), email_verified: true }, PUSHER), {
    ok: true,
  });
  t.like(authorizePushClaims({ email: 'someone@else.com', email_verified: true }, PUSHER), { status: 403 });
  t.like(authorizePushClaims({ email: PUSHER, email_verified: false }, PUSHER), { status: 403 });
  t.like(authorizePushClaims({ email: PUSHER }, PUSHER), { status: 403 });
  t.like(authorizePushClaims({}, PUSHER), { status: 403 });
  t.like(authorizePushClaims(undefined, PUSHER), { status: 401 });
});

test('the bearer token is taken from the Authorization header only in the Bearer form', (t) => {
  t.is(bearerToken('Bearer a.b.c'), 'a.b.c');
  t.is(bearerToken('bearer a.b-_c.d'), 'a.b-_c.d');
  t.is(bearerToken('Basic dXNlcg=='), undefined);
  t.is(bearerToken('Bearer'), undefined);
  t.is(bearerToken(undefined), undefined);
});

test('push auth is on unless turned off, and then needs both the service account and the audience', (t) => {
  const base = { GOOGLE_CLOUD_PROJECT: 'p' };
  const refused = (env: Record<string, string>) => t.throws(() => readWriterConfig({ ...base, ...env }));
  t.like(refused({}), { name: 'ConfigError', variable: 'PUSH_AUTH_SERVICE_ACCOUNT' });
  t.like(refused({ PUSH_AUTH: 'oidc', PUSH_AUTH_AUDIENCE: AUDIENCE }), {
    variable: 'PUSH_AUTH_SERVICE_ACCOUNT',
  });
  t.like(refused({ PUSH_AUTH_SERVICE_ACCOUNT: PUSHER }), { variable: 'PUSH_AUTH_AUDIENCE' });
  t.like(refused({ PUSH_AUTH_SERVICE_ACCOUNT: PUSHER, PUSH_AUTH_AUDIENCE: 'writer' }), {
    variable: 'PUSH_AUTH_AUDIENCE',
  });
  t.like(refused({ PUSH_AUTH: 'no', PUSH_AUTH_SERVICE_ACCOUNT: PUSHER, PUSH_AUTH_AUDIENCE: AUDIENCE }), {
    variable: 'PUSH_AUTH',
  });
  t.true(refused({}) instanceof ConfigError);
  t.like(readWriterConfig({ ...base, PUSH_AUTH_SERVICE_ACCOUNT: PUSHER, PUSH_AUTH_AUDIENCE: AUDIENCE }), {
    pushAuth: 'oidc',
    pushServiceAccount: PUSHER,
    pushAudience: AUDIENCE,
  });
  t.like(readWriterConfig({ ...base, PUSH_AUTH: 'off' }), { pushAuth: 'off' });
});

test('a token signed with the published key verifies offline; forged, foreign, expired ones do not', async (t) => {
  const signer = tokenSigner();
  const client = new OAuth2Client();
  const verify = (jwt: string, audience = AUDIENCE) =>
    client.verifySignedJwtWithCertsAsync(jwt, signer.certs, audience, ISSUERS);
  const good = signer.sign({ aud: AUDIENCE, email: PUSHER, email_verified: true });
  const ticket = await verify(good);
  t.deepEqual(authorizePushClaims(ticket.getPayload(), PUSHER), { ok: true });

  const [h, p, s] = good.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), email: 'x@y.z' })).toString('base64url')}.${s}`;
  await t.throwsAsync(verify(tampered), { message: /Invalid token signature/ });
  await t.throwsAsync(verify(good, 'https://other.run.app'), { message: /Wrong recipient/ });
  const old = Math.floor(Date.now() / 1000) - 7200;
  await t.throwsAsync(verify(signer.sign({ aud: AUDIENCE, email: PUSHER, iat: old, exp: old + 3600 })), {
    message: /Token used too late/,
  });
  await t.throwsAsync(verify(tokenSigner().sign({ aud: AUDIENCE, email: PUSHER }, { kid: signer.kid })), {
    message: /Invalid token signature/,
  });
  await t.throwsAsync(verify(signer.sign({ aud: AUDIENCE, iss: 'https://evil.example' })), {
    message: /Invalid issuer/,
  });
});
