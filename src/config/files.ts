/**
 * The files a config names, read as `serve` reads them — verification keys (and their
 * strength), the identity assertion's key, TLS certificates and keys, CA bundles — so that
 * `serve`, `check-config`, `diagnose` and a reload refuse the same configs (the one loader,
 * cli/config-loader.ts). Each problem names its config path; file contents are never shown.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assertKeyStrength } from '../auth/keys';
import { loadAssertionKey } from '../identity/assertion';
import type { ConfigProblem } from './load';
import type { Config } from './schema';

type Kind = 'publicKey' | 'privateKey' | 'certificate';

function check(path: string, file: string, kind: Kind): ConfigProblem | undefined {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    return { path, reason: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    if (kind === 'publicKey') assertKeyStrength(createPublicKey(pem));
    else if (kind === 'privateKey') createPrivateKey(pem);
    else new X509Certificate(pem);
  } catch (err) {
    const message = (err as Error).message;
    return {
      path,
      reason: /bits is below/.test(message)
        ? message
        : `is not a PEM ${kind === 'publicKey' ? 'public key' : kind === 'privateKey' ? 'private key' : 'certificate'}`,
    };
  }
  return undefined;
}

/** Every problem with the files `config` names (empty when serve would read them all). */
export function fileProblems(config: Readonly<Config>): ConfigProblem[] {
  const problems: Array<ConfigProblem | undefined> = [];
  config.auth.jwt.issuers.forEach((issuer, i) => {
    if (issuer.publicKeyFile !== undefined)
      problems.push(
        check(`auth.jwt.issuers[${i}].publicKeyFile`, issuer.publicKeyFile, 'publicKey'),
      );
  });
  if (config.identityAssertion?.keyFile) {
    try {
      loadAssertionKey(config.identityAssertion);
    } catch (err) {
      problems.push({
        path: 'identityAssertion.keyFile',
        reason: (err as Error).message.replace(/^identityAssertion\.keyFile /, ''),
      });
    }
  }
  const tls = config.server.tls;
  if (tls) {
    problems.push(check('server.tls.certFile', tls.certFile, 'certificate'));
    problems.push(check('server.tls.keyFile', tls.keyFile, 'privateKey'));
    if (tls.clientCaFile)
      problems.push(check('server.tls.clientCaFile', tls.clientCaFile, 'certificate'));
  }
  const peerTls = (
    path: string,
    t: { caFile?: string; certFile?: string; keyFile?: string } | undefined,
  ): void => {
    if (!t) return;
    if (t.caFile) problems.push(check(`${path}.caFile`, t.caFile, 'certificate'));
    if (t.certFile) problems.push(check(`${path}.certFile`, t.certFile, 'certificate'));
    if (t.keyFile) problems.push(check(`${path}.keyFile`, t.keyFile, 'privateKey'));
  };
  config.routes.forEach((route, i) => peerTls(`routes[${i}].upstreamTls`, route.upstreamTls));
  peerTls('auth.apiKeys.serviceAuth.tls', config.auth.apiKeys?.serviceAuth?.tls);
  return problems.filter((p): p is ConfigProblem => p !== undefined);
}
