/**
 * Certificates made with the real openssl CLI for the TLS tests: a CA, a server certificate for
 * 127.0.0.1, client certificates with SPIFFE URI SANs, and a second, untrusted CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  ca: { cert: string; key: string };
  /** A key and a certificate signed by `ca` (files), with the given subject and SANs. */
  issue(
    name: string,
    options: { cn: string; san?: string; server?: boolean; ca?: { cert: string; key: string } },
  ): {
    cert: string;
    key: string;
  };
  /** Another self-signed CA (not trusted by the listener). */
  otherCa(): { cert: string; key: string };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
  return { cert, key };
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'authgate-pki-'));
  const ca = makeCa(dir, 'test-ca');
  let serial = 1;
  return {
    dir,
    ca,
    issue(name, options) {
      const signer = options.ca ?? ca;
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.pem`);
      const ext = join(dir, `${name}.ext`);
      openssl([
        'req',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        csr,
        '-subj',
        `/CN=${options.cn}`,
      ]);
      writeFileSync(
        ext,
        [
          options.san ? `subjectAltName=${options.san}` : '',
          `extendedKeyUsage=${options.server ? 'serverAuth' : 'clientAuth'}`,
        ]
          .filter(Boolean)
          .join('\n'),
      );
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        signer.cert,
        '-CAkey',
        signer.key,
        '-set_serial',
        String(serial++),
        '-days',
        '2',
        '-out',
        cert,
        '-extfile',
        ext,
      ]);
      return { cert, key };
    },
    otherCa() {
      return makeCa(dir, `other-ca-${serial++}`);
    },
  };
}
