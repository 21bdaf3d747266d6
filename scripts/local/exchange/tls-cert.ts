/** A throwaway self-signed certificate for 127.0.0.1/localhost, made with the machine's openssl. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SelfSignedCert {
  /** PEM file to hand to a client process as NODE_EXTRA_CA_CERTS. */
  readonly certPath: string;
  readonly cert: string;
  readonly key: string;
  /** Deletes the temp dir; safe to call twice. */
  remove(): Promise<void>;
}

export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

/** Creates a P-256 self-signed certificate (CN 127.0.0.1, SAN IP:127.0.0.1 + DNS:localhost) in a temp dir. */
export async function createSelfSignedCert(): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), 'tickstream-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '7',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { timeout: 30_000 },
    );
  } catch (cause) {
    await rm(dir, { recursive: true, force: true });
    throw new CertificateError('openssl could not create a self-signed certificate (is openssl installed?)', {
      cause,
    });
  }
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { certPath, cert, key, remove: () => rm(dir, { recursive: true, force: true }) };
}
