/**
 * One loader: `serve`, `check-config` and `diagnose` refuse the same configs — including what
 * only reading the files it names shows (a missing public key, a 1024-bit RSA key, a certificate
 * that is not one) — with the same `path: reason` line and exit 1.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, writeConfig } from '../../helpers/process';

jest.setTimeout(60_000);

const dir = mkdtempSync(join(tmpdir(), 'authgate-one-loader-'));
const weak = join(dir, 'weak.pem');
writeFileSync(
  weak,
  generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
    format: 'pem',
    type: 'spki',
  }),
);
const notACert = join(dir, 'not-a-cert.pem');
writeFileSync(notACert, 'hello\n');

const route = { name: 'r', prefix: '/', upstream: 'http://127.0.0.1:1', auth: 'none' };
const issuer = (publicKeyFile: string) => ({
  auth: { jwt: { issuers: [{ issuer: 'idp', algorithms: ['RS256'], publicKeyFile }] } },
  routes: [route],
});

describe.each<[string, Record<string, unknown>, RegExp]>([
  [
    'a public key file that is not there',
    issuer('/nonexistent/idp.pem'),
    /auth\.jwt\.issuers\[0\]\.publicKeyFile: cannot be read \(ENOENT\)/,
  ],
  [
    'a 1024-bit RSA key',
    issuer(weak),
    /auth\.jwt\.issuers\[0\]\.publicKeyFile: RSA key of 1024 bits is below the 2048-bit minimum/,
  ],
  [
    'an upstream CA that is not a certificate',
    {
      routes: [{ ...route, upstream: 'https://127.0.0.1:1', upstreamTls: { caFile: notACert } }],
    },
    /routes\[0\]\.upstreamTls\.caFile: is not a PEM certificate/,
  ],
])('%s', (_what, config, problem) => {
  const file = writeConfig({ metrics: { port: 0 }, server: { port: 0 }, ...config });
  test.each([['check-config'], ['diagnose'], ['serve']])(
    '%s refuses it, naming it',
    async (command) => {
      const r = await runCli([command, '--config', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(problem);
    },
  );
});
