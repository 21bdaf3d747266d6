import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { OidcPushAuthenticator } from '../../functions/adapters/google-auth/oidc-push-authenticator.ts';
import { startCertServer, tokenSigner } from '../support/oidc.ts';
import { encodeBatch, pushEnvelope, startWriterHarness, tradeBatch } from '../support/writer-harness.ts';

const PUSHER = 'push-invoker@tickstream-test.iam.gserviceaccount.com';
/** The writer's deterministic URL, as Terraform sets it; the harness's 127.0.0.1 URL is not it. */
const AUDIENCE = 'https://tickstream-writer-123456789012.europe-west1.run.app';

/** Starts the writer under functions-framework with `env` only and returns how it exited. */
async function writerExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'node_modules/@google-cloud/functions-framework/build/src/main.js',
      '--target=writer',
      '--source=functions/writer/index.ts',
      '--port=0',
    ],
    { env: { PATH: process.env.PATH ?? '', METADATA_SERVER_DETECTION: 'none', ...env } },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}

test('without push auth configured or turned off, the writer refuses to start and names the variable', async (t) => {
  const [noAccount, noAudience] = await Promise.all([
    writerExit({ GOOGLE_CLOUD_PROJECT: 'p' }),
    writerExit({ GOOGLE_CLOUD_PROJECT: 'p', PUSH_AUTH_SERVICE_ACCOUNT: PUSHER }),
  ]);
  t.is(noAccount.code, 78, noAccount.output.slice(0, 300));
  t.regex(
    noAccount.output,
    /"severity":"CRITICAL".*PUSH_AUTH_SERVICE_ACCOUNT: is required unless PUSH_AUTH=off/,
  );
  t.is(noAudience.code, 78, noAudience.output.slice(0, 300));
  t.regex(noAudience.output, /"severity":"CRITICAL".*PUSH_AUTH_AUDIENCE: is required unless PUSH_AUTH=off/);
});

test('with push auth configured, the writer takes only tokens of the push service account for its pinned audience', async (t) => {
  const signer = tokenSigner();
  const certs = await startCertServer(signer.certs);
  t.teardown(() => certs.stop());
  const h = await startWriterHarness({
    name: 'auth',
    writerEnv: {
      PUSH_AUTH: 'oidc',
      PUSH_AUTH_SERVICE_ACCOUNT: PUSHER,
      PUSH_AUTH_AUDIENCE: AUDIENCE,
      PUSH_AUTH_CERTS_URL: certs.url,
    },
  });
  t.teardown(() => h.stop());
  const audience = AUDIENCE;
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
    (await h.post(body, bearer(signer.sign({ ...claims, aud: h.url })))).status,
    401,
    'the URL the request was sent to is not an audience',
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
  t.is(
    (await h.post(body, { ...bearer(signer.sign(claims)), host: 'elsewhere.run.app' })).status,
    200,
    'nor does the Host header change the audience',
  );
  t.is(await h.scalar(`SELECT COUNT(*) FROM ${h.table('trades_dedup')}`), 3);
  t.is(certs.requests(), 1, "Google's certificates are fetched once and cached");
});

test('the authenticator takes only its configured audience, and an unreachable certificate endpoint is a 503', async (t) => {
  const signer = tokenSigner();
  const certs = await startCertServer(signer.certs);
  t.teardown(() => certs.stop());
  const auth = new OidcPushAuthenticator({ serviceAccount: PUSHER, audience: AUDIENCE, certsUrl: certs.url });
  const token = (aud: string) => `Bearer ${signer.sign({ aud, email: PUSHER, email_verified: true })}`;
  t.deepEqual(await auth.authenticate(token(AUDIENCE)), { ok: true });
  t.like(await auth.authenticate(token('http://127.0.0.1:1/')), { ok: false, status: 401 });
  t.like(await auth.authenticate(token(`${AUDIENCE}/`)), { ok: false, status: 401 });

  const down = new OidcPushAuthenticator({
    serviceAccount: PUSHER,
    audience: AUDIENCE,
    certsUrl: 'http://127.0.0.1:9/certs',
  });
  t.like(await down.authenticate(token(AUDIENCE)), { ok: false, status: 503 });
});
