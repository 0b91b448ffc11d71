/**
 * Client certificates as a credential (`auth.clientCert`, docs/tls.md): on the HTTPS listener
 * with `server.tls.clientCert` optional or required, a certificate the client CA verified names
 * the caller — its SPIFFE id (URI SAN), a DNS SAN, or the subject CN — when the name matches
 * one of the `allow` patterns (`*` stands for one path segment or DNS label, `**` for any
 * rest). Scopes come per identity. Internal trust can then be "this SPIFFE id" rather than "this
 * IP range".
 *
 * A bearer token or an API key the caller also sends decides instead (a service calling on a
 * user's behalf); a certificate that did not verify is refused, never ignored.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Config } from '../config/schema';
import { AuthgateError } from '../errors';
import type { Principal, RequestScope } from '../request-scope';
import {
  NOT_RESPONSIBLE,
  type AuthResult,
  type Authenticator,
  type AuthenticatorModule,
} from './authenticator';

export type ClientCertConfig = NonNullable<Config['auth']['clientCert']>;

function refused(reason: string, message: string): AuthgateError {
  return new AuthgateError('TOKEN_INVALID', { reason, message });
}

/** The names a certificate carries in its subjectAltName, by kind. */
export function altNames(subjectaltname: string | undefined): { uri: string[]; dns: string[] } {
  const uri: string[] = [];
  const dns: string[] = [];
  for (const part of (subjectaltname ?? '').split(/,\s*/)) {
    if (part.startsWith('URI:')) uri.push(part.slice(4));
    else if (part.startsWith('DNS:')) dns.push(part.slice(4));
  }
  return { uri, dns };
}

/** `*` matches one segment (no `/` or `.`), `**` any rest; everything else literally. */
export function patternMatches(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/.]+';
    else re += c.replace(/[\\^$.|?+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(name);
}

export class ClientCertAuthenticator implements Authenticator {
  readonly method = 'client_cert' as const;

  constructor(private readonly config: ClientCertConfig) {}

  /** The identity a verified certificate names, per `principalFrom`. */
  identityOf(cert: {
    subject?: { CN?: string | string[] };
    subjectaltname?: string;
  }): string | undefined {
    const names = altNames(cert.subjectaltname);
    if (this.config.principalFrom === 'uriSan') return names.uri[0];
    if (this.config.principalFrom === 'dnsSan') return names.dns[0];
    const cn = cert.subject?.CN;
    return Array.isArray(cn) ? cn[0] : cn;
  }

  authenticate(req: IncomingMessage, scope: RequestScope): AuthResult {
    const socket = req.socket as Partial<TLSSocket>;
    if (!socket.encrypted || scope.presented) return NOT_RESPONSIBLE;
    const cert = socket.getPeerCertificate?.();
    if (!cert || Object.keys(cert).length === 0) return NOT_RESPONSIBLE;
    if (!socket.authorized)
      throw refused('client_cert_unverified', 'The client certificate is not trusted.');
    const identity = this.identityOf(cert);
    if (identity === undefined || identity === '')
      throw refused(
        'client_cert_no_identity',
        `The client certificate has no ${this.config.principalFrom}.`,
      );
    if (!this.config.allow.some((p) => patternMatches(p, identity)))
      throw refused('client_cert_not_allowed', 'This client certificate is not allowed here.');
    const principal: Principal = {
      userId: identity,
      tenantIds: [],
      scopes: [...(this.config.scopes[identity] ?? []), ...this.config.defaultScopes],
      authMethod: 'client_cert',
    };
    return principal;
  }
}

/** Registration (auth/registry.ts): configured by `auth.clientCert`. */
export const clientCertModule: AuthenticatorModule = {
  method: 'client_cert',
  headers: () => [],
  build(config) {
    if (!config.auth.clientCert) return undefined;
    return { authenticator: new ClientCertAuthenticator(config.auth.clientCert) };
  },
};
