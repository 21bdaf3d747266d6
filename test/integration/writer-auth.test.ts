import test from 'ava';
import { OidcPushAuthenticator } from '../../functions/adapters/google-auth/oidc-push-authenticator.ts';
import { startCertServer, tokenSigner } from '../support/oidc.ts';
import { encodeBatch, pushEnvelope, startWriterHarness, tradeBatch } from '../support/writer-harness.ts';

const PUSHER = 'push-invoker@tickstream-test.iam.gserviceaccount.com';

test('with push auth configured, the writer takes only tokens of the push service account for its URL', async (t) => {
  const signer = tokenSigner();
  const certs = await startCertServer(signer.certs);
  t.teardown(() => certs.stop());
  const h = await startWriterHarness({
    name: 'auth',
    writerEnv: { PUSH_AUTH_SERVICE_ACCOUNT: PUSHER, PUSH_AUTH_CERTS_URL: certs.url },
  });
  t.teardown(() => h.stop());
  const audience = h.url; // Pub/Sub's default audience: the push endpoint
  const batch = tradeBatch('authusdt', 1, 1, 3);
  const body = pushEnvelope(encodeBatch(batch), 'auth-1');
  const sent: string[] = [];
  const bearer = (token: string) => {
    sent.push(token);
    return { authorization: `Bearer ${token}` };
  };
  const claims = { aud: audience, email: PUSHER, email_verified: true };
  const old = Math.floor(Date.now() / 1000) - 7200;

  t.is((await h.post(body)).status, 401, 'no token');
  t.is((await h.post(body, { authorization: 'Basic dXNlcjpwYXNz' })).status, 401, 'not a bearer token');
  t.is((await h.post(body, bearer('not.a.jwt'))).status, 401, 'garbage');
  t.is((await h.post(body, bearer(tokenSigner().sign(claims)))).status, 401, 'signed by an unknown key');
  t.is(
    (await h.post(body, bearer(signer.sign({ ...claims, aud: 'https://elsewhere.run.app/' })))).status,
    401,
  );
  t.is(
    (await h.post(body, bearer(signer.sign({ ...claims, iat: old, exp: old + 3600 })))).status,
    401,
    'expired',
  );
  const wrong = await h.post(body, bearer(signer.sign({ ...claims, email: 'intruder@evil.example' })));
  t.is(wrong.status, 403);
  t.regex(String(wrong.body?.detail), /not the push service account/);
  t.is((await h.post(body, bearer(signer.sign({ ...claims, email_verified: false })))).status, 403);
  t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades')}`), 0, 'nothing stored for refused requests');
  const logs = h.writer.logLines().join('\n');
  t.true(logs.includes('push request not authenticated'));
  for (const token of sent) {
    const signature = token.split('.')[2];
    if (signature) t.false(logs.includes(signature), 'tokens are never logged');
  }

  const ok = await h.post(body, bearer(signer.sign(claims)));
  t.is(ok.status, 200);
  t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')}`), 3);
  t.is(certs.requests(), 1, "Google's certificates are fetched once and cached");
});

test('a configured audience replaces the request URL, and an unreachable certificate endpoint is a 503', async (t) => {
  const signer = tokenSigner();
  const certs = await startCertServer(signer.certs);
  t.teardown(() => certs.stop());
  const audience = 'https://tickstream-writer-abc-ew.a.run.app';
  const auth = new OidcPushAuthenticator({
    serviceAccount: PUSHER,
    audiences: [audience],
    certsUrl: certs.url,
  });
  const token = (aud: string) => `Bearer ${signer.sign({ aud, email: PUSHER, email_verified: true })}`;
  t.deepEqual(await auth.authenticate(token(audience), 'http://127.0.0.1:1/'), { ok: true });
  t.like(await auth.authenticate(token('http://127.0.0.1:1/'), 'http://127.0.0.1:1/'), {
    ok: false,
    status: 401,
  });

  const down = new OidcPushAuthenticator({
    serviceAccount: PUSHER,
    audiences: [audience],
    certsUrl: 'http://127.0.0.1:9/certs',
  });
  t.like(await down.authenticate(token(audience), 'http://x/'), { ok: false, status: 503 });
});
