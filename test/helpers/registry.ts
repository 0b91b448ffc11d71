/**
 * The real CNCF distribution registry (Debian's `docker-registry`) on an ephemeral loopback
 * port, with htpasswd basic auth or with token auth whose token server is started here: a small
 * implementation of the distribution token protocol (GET realm?service&scope with Basic auth →
 * {token, expires_in}), signing RS256 JWTs with an x5c chain the registry trusts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import jwt from 'jsonwebtoken';
import { stringify } from 'yaml';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface SeenTokenRequest {
  authorization: string | undefined;
  service: string | null;
  scopes: string[];
  status: number;
}

export interface TokenServer {
  realm: string;
  server: Server;
  requests: SeenTokenRequest[];
  close(): Promise<void>;
}

/**
 * The token server: Basic `username:password` must match; grants every scope asked for
 * (the registry checks the token's access claim against the request).
 */
export async function startTokenServer(options: {
  username: string;
  password: string;
  service: string;
  issuer: string;
  keyPem: string;
  certPem: string;
  expiresInSec?: number;
}): Promise<TokenServer> {
  const requests: SeenTokenRequest[] = [];
  const certDer = options.certPem
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
  const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const seen: SeenTokenRequest = {
      authorization: req.headers.authorization,
      service: url.searchParams.get('service'),
      scopes: url.searchParams.getAll('scope'),
      status: 200,
    };
    requests.push(seen);
    if (req.headers.authorization !== expected) {
      seen.status = 401;
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    const access = seen.scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop() ?? '';
      return [{ type, name: rest.join(':'), actions: actions.split(',') }];
    });
    const expiresIn = options.expiresInSec ?? 300;
    const token = jwt.sign({ access }, options.keyPem, {
      algorithm: 'RS256',
      issuer: options.issuer,
      audience: options.service,
      subject: options.username,
      expiresIn,
      jwtid: String(requests.length),
      header: { alg: 'RS256', x5c: [certDer] } as jwt.JwtHeader,
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: expiresIn }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    server,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Registry {
  url: string;
  host: string;
  dir: string;
  child: ChildProcess;
  /** The registry's own access log: one line per request it received ("METHOD PATH STATUS"). */
  accessLog(): string[];
  close(): Promise<void>;
}

export type RegistryAuth =
  | { kind: 'htpasswd'; username: string; password: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; certFile: string };

/** A self-signed certificate and key for the token issuer (openssl). */
export function issuerCertificate(dir: string): {
  keyPem: string;
  certPem: string;
  certFile: string;
} {
  const keyFile = join(dir, 'issuer-key.pem');
  const certFile = join(dir, 'issuer-cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=authgate-test-token-issuer',
    ],
    { stdio: 'ignore' },
  );
  return {
    keyPem: readFileSync(keyFile, 'utf8'),
    certPem: readFileSync(certFile, 'utf8'),
    certFile,
  };
}

/**
 * Starts the registry and waits until it answers /v2/. `absoluteUrls`: its own URL is set as
 * `http.host`, so every Location it answers names the registry itself (not the Host it was sent).
 */
export async function startRegistry(
  auth: RegistryAuth,
  options: { absoluteUrls?: boolean } = {},
): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'authgate-registry-'));
  const port = await freePort();
  let authConfig: Record<string, unknown>;
  if (auth.kind === 'htpasswd') {
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `${auth.username}:${bcrypt.hashSync(auth.password, 5)}\n`);
    authConfig = { htpasswd: { realm: 'test-registry', path: file } };
  } else {
    authConfig = {
      token: {
        realm: auth.realm,
        service: auth.service,
        issuer: auth.issuer,
        rootcertbundle: auth.certFile,
      },
    };
  }
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    stringify({
      version: 0.1,
      log: { level: 'warn', formatter: 'json', accesslog: { disabled: false } },
      storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
      http: {
        addr: `127.0.0.1:${port}`,
        relativeurls: false,
        ...(options.absoluteUrls ? { host: `http://127.0.0.1:${port}` } : {}),
      },
      auth: authConfig,
    }),
  );
  const child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  // The access log goes to stdout, errors to stderr: both are read.
  child.stdout?.on('data', (c: Buffer) => stderr.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => stderr.push(c.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 401 || res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 100 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`registry did not start: ${stderr.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const accessLog = (): string[] =>
    stderr
      .join('')
      .split('\n')
      .flatMap((line) => {
        const m = /"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP\/[\d.]+" (\d{3})/.exec(line);
        return m ? [`${m[1]} ${m[2]} ${m[3]}`] : [];
      });
  return {
    url,
    host: `127.0.0.1:${port}`,
    dir,
    child,
    accessLog,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Runs skopeo; resolves with its exit code and output (never throws on a non-zero exit). */
export function skopeo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('skopeo', args, { env: { PATH: process.env.PATH, HOME: tmpdir() } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}
