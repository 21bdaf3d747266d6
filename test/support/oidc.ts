// Offline stand-ins for Google's push OIDC tokens: an RSA key pair, tokens signed with it, and a local
// server for the signing certificates (what https://www.googleapis.com/oauth2/v1/certs serves).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';

export interface TokenSigner {
  readonly kid: string;
  /** `{kid: PEM}`, the shape Google's PEM certificate endpoint returns. */
  readonly certs: Record<string, string>;
  sign(claims: Record<string, unknown>, options?: { kid?: string }): string;
}

export function tokenSigner(): TokenSigner {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    kid,
    certs: { [kid]: pem },
    sign(claims, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'RS256', typ: 'JWT', kid: options.kid ?? kid };
      const payload = {
        iss: 'https://accounts.google.com',
        iat: now,
        exp: now + 3600,
        sub: '1234',
        ...claims,
      };
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const signed = `${encode(header)}.${encode(payload)}`;
      const signature = createSign('RSA-SHA256').update(signed).sign(privateKey).toString('base64url');
      return `${signed}.${signature}`;
    },
  };
}

/** Serves `certs` at `${url}` (with a max-age, as Google does); counts requests. */
export async function startCertServer(
  certs: Record<string, string>,
): Promise<{ url: string; requests: () => number; stop: () => Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' });
    res.end(JSON.stringify(certs));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/oauth2/v1/certs`,
    requests: () => requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
