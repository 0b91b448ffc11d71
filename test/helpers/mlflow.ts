/**
 * The real MLflow tracking server (pinned in test/mlflow/MLFLOW_VERSION, installed by
 * scripts/install-mlflow.sh) and the real MLflow Python client, for the MLflow tests.
 * No stand-in: the server is `mlflow server` with a SQLite store and the artifact proxy, under
 * gunicorn, whose access log records the headers the server received.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SigningKey } from './jwks';
import { ROOT } from './process';
import { freePort } from './servers';

export const MLFLOW_VERSION = readFileSync(join(ROOT, 'test/mlflow/MLFLOW_VERSION'), 'utf8').trim();
export const MLFLOW_BIN = join(ROOT, '.tools/mlflow/bin');
export const PYTHON = join(MLFLOW_BIN, 'python');

/** One request as the MLflow server's gunicorn logged it. */
export interface ServerSeen {
  method: string;
  path: string;
  status: string;
  userId: string;
  requestId: string;
  authorization: string;
  apiKey: string;
}

export interface MlflowServer {
  url: string;
  port: number;
  dir: string;
  /** Every request the server has logged so far. */
  seen(): ServerSeen[];
  stop(): Promise<void>;
}

const ACCESS_FORMAT = JSON.stringify({
  method: '%(m)s',
  path: '%(U)s',
  status: '%(s)s',
  userId: '%({x-user-id}i)s',
  requestId: '%({x-request-id}i)s',
  authorization: '%({authorization}i)s',
  apiKey: '%({x-api-key}i)s',
});

export interface MlflowServerOptions {
  /** MLflow's own basic-auth app in front of its server (a real source of 401/403). */
  basicAuth?: { adminUser: string; adminPassword: string };
  /** `--enable-workspaces`: resources live in the workspace of `X-MLFLOW-WORKSPACE`. */
  workspaces?: boolean;
  /**
   * MLflow's permission app with authgate-mlflow (integrations/mlflow) as its authorization
   * function: people are who authgate's identity assertion says, verified against this JWKS.
   */
  authgatePermissions?: { jwksUrl: string; audience: string; defaultPermission?: string };
}

/** The admin of the shared basic-auth MLflow server. */
export const MLFLOW_ADMIN = { adminUser: 'admin', adminPassword: 'admin-password-0123456789' };

type SharedKind = 'plain' | 'basic-auth';
const sharedEnv = (kind: SharedKind) =>
  `AUTHGATE_TEST_MLFLOW_${kind.replace('-', '_').toUpperCase()}`;

/**
 * The end-to-end tier starts two MLflow servers once (its global setup), a plain one and one
 * behind MLflow's basic-auth app (admin MLFLOW_ADMIN), and every file shares them: each file
 * makes its own experiments and runs, and tells its requests in the access log apart by its own
 * credentials. stop() leaves a shared server running; the tier's teardown stops it.
 */
export function sharedMlflowServer(kind: SharedKind): MlflowServer {
  const described = process.env[sharedEnv(kind)];
  if (!described)
    throw new Error(
      `no shared ${kind} MLflow server: run the e2e tier (jest --selectProjects e2e)`,
    );
  const { url, port, dir } = JSON.parse(described) as { url: string; port: number; dir: string };
  return {
    url,
    port,
    dir,
    seen: () => readAccessLog(join(dir, 'access.log')),
    stop: async () => {},
  };
}

/** Starts the shared servers for the tier; the returned function stops them. */
export async function startSharedMlflowServers(): Promise<() => Promise<void>> {
  const servers = await Promise.all([
    startMlflowServer(),
    startMlflowServer({ basicAuth: MLFLOW_ADMIN }),
  ]);
  (['plain', 'basic-auth'] as const).forEach((kind, i) => {
    const { url, port, dir } = servers[i]!;
    process.env[sharedEnv(kind)] = JSON.stringify({ url, port, dir });
  });
  return async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
}

function readAccessLog(accessLog: string): ServerSeen[] {
  return existsSync(accessLog)
    ? readFileSync(accessLog, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as ServerSeen)
    : [];
}

export async function startMlflowServer(options: MlflowServerOptions = {}): Promise<MlflowServer> {
  const dir = mkdtempSync(join(tmpdir(), 'authgate-mlflow-'));
  const port = await freePort();
  const accessLog = join(dir, 'access.log');
  const args = [
    'server',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--backend-store-uri',
    `sqlite:///${join(dir, 'mlflow.db')}`,
    '--serve-artifacts',
    '--artifacts-destination',
    join(dir, 'artifacts'),
    '--workers',
    '2',
    '--gunicorn-opts',
    `--timeout 300 --access-logfile ${accessLog} --access-logformat '${ACCESS_FORMAT}'`,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, MLFLOW_LOGGING_LEVEL: 'WARNING' };
  if (options.workspaces) args.push('--enable-workspaces');
  if (options.basicAuth) {
    args.push('--app-name', 'basic-auth');
    env.MLFLOW_AUTH_CONFIG_PATH = writeAuthConfig(dir, options.basicAuth);
    env.MLFLOW_FLASK_SERVER_SECRET_KEY = 'authgate-test-secret';
  }
  if (options.authgatePermissions) {
    args.push('--app-name', 'basic-auth');
    env.MLFLOW_AUTH_CONFIG_PATH = writePermissionsConfig(dir, options.authgatePermissions);
    env.MLFLOW_FLASK_SERVER_SECRET_KEY = 'authgate-test-secret';
    // The package from this checkout (what `pip install integrations/mlflow` installs).
    env.PYTHONPATH = AUTHGATE_MLFLOW_SRC;
  }
  const child: ChildProcess = spawn(join(MLFLOW_BIN, 'mlflow'), args, {
    cwd: dir,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`mlflow server did not start: ${stderr.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    dir,
    seen: () => readAccessLog(accessLog),
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid!, 'SIGTERM'); // gunicorn and its workers
      } catch {
        /* already gone */
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, 'SIGKILL'); // whatever of the group outlived the grace (job runners)
      } catch {
        /* all gone */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The source of the authgate-mlflow package (integrations/mlflow). */
export const AUTHGATE_MLFLOW_SRC = join(ROOT, 'integrations/mlflow/src');

/** MLflow's auth config with authgate-mlflow as its authorization function. */
export function writePermissionsConfig(
  dir: string,
  p: { jwksUrl: string; audience: string; defaultPermission?: string },
): string {
  const file = join(dir, 'authgate_permissions.ini');
  writeFileSync(
    file,
    [
      '[mlflow]',
      `default_permission = ${p.defaultPermission ?? 'READ'}`,
      `database_uri = sqlite:///${join(dir, 'basic_auth.db')}`,
      'admin_username = admin',
      // MLflow creates this bootstrap admin; authgate-mlflow never accepts a password.
      'admin_password = bootstrap-password-0123456789',
      'authorization_function = authgate_mlflow:authenticate_request',
      '',
      '[authgate]',
      `jwks_url = ${p.jwksUrl}`,
      `audience = ${p.audience}`,
      '',
    ].join('\n'),
  );
  return file;
}

function writeAuthConfig(dir: string, admin: { adminUser: string; adminPassword: string }): string {
  const file = join(dir, 'basic_auth.ini');
  writeFileSync(
    file,
    [
      '[mlflow]',
      'default_permission = READ',
      `database_uri = sqlite:///${join(dir, 'basic_auth.db')}`,
      `admin_username = ${admin.adminUser}`,
      `admin_password = ${admin.adminPassword}`,
      'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
      '',
    ].join('\n'),
  );
  return file;
}

export interface ClientResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The JSON the script printed last. */
  json: Record<string, unknown>;
}

interface DriverAnswer {
  id: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One long-lived `client.py serve` per test file: mlflow is imported once (1.5 s), and each
 * command runs in a fork of that process, so commands share no client state.
 */
class ClientDriver {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, (a: DriverAnswer) => void>();
  private nextId = 1;
  private stderr = '';
  private exited = false;

  constructor() {
    this.child = spawn(PYTHON, [join(ROOT, 'test/mlflow/client.py'), 'serve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MLFLOW_DISABLE_TELEMETRY: 'true',
        DO_NOT_TRACK: 'true',
      },
    });
    this.child.stderr.on(
      'data',
      (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-4000)),
    );
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line) as DriverAnswer;
      this.pending.get(answer.id)?.(answer);
      this.pending.delete(answer.id);
    });
    this.child.on('exit', (code) => {
      this.exited = true;
      for (const [id, resolve] of this.pending) {
        resolve({ id, code, stdout: '', stderr: `client driver exited (${code}): ${this.stderr}` });
      }
      this.pending.clear();
    });
  }

  run(args: string[], env: NodeJS.ProcessEnv): Promise<DriverAnswer> {
    if (this.exited) {
      return Promise.resolve({
        id: 0,
        code: null,
        stdout: '',
        stderr: `client driver gone: ${this.stderr}`,
      });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.stdin.write(
        `${JSON.stringify({ id, args, env: { MLFLOW_LOGGING_LEVEL: 'WARNING', ...env } })}\n`,
      );
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    this.child.kill('SIGTERM');
    await gone;
  }
}

let driver: ClientDriver | undefined;
// A test file that imports this module closes its driver when it ends (the tier's global setup
// imports it too, outside any test file, where there is no afterAll).
if (typeof afterAll === 'function') {
  afterAll(async () => {
    await driver?.close();
    driver = undefined;
  });
}

/**
 * Runs test/mlflow/client.py's command `args` with the real MLflow client; env holds the MLFLOW_*
 * settings (and ARTIFACT_MB/FLOW_SUFFIX for the flow). Commands may run concurrently.
 */
export async function runClient(args: string[], env: NodeJS.ProcessEnv): Promise<ClientResult> {
  driver ??= new ClientDriver();
  const { code, stdout, stderr } = await driver.run(args, env);
  const last = stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(last) as Record<string, unknown>;
  } catch {
    /* the test shows stdout/stderr */
  }
  return { code, stdout, stderr, json };
}

/**
 * An identity-assertion key for authgate in front of MLflow's permission app: the PEM file
 * authgate signs with, and `signingKey()` — the same key under the `kid` authgate's JWKS
 * publishes — for tests that sign assertions themselves (forged, expired, another audience).
 */
export function assertionKeyFile(): {
  keyFile: string;
  signingKey(authgateUrl: string): Promise<SigningKey>;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'authgate-assertion-')), 'assertion.key');
  writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return {
    keyFile,
    async signingKey(authgateUrl) {
      const jwks = (await (
        await fetch(`${authgateUrl}/.well-known/authgate/jwks.json`)
      ).json()) as { keys: Array<{ kid: string }> };
      return { kid: jwks.keys[0]!.kid, alg: 'ES256', privateKey, publicKey };
    },
  };
}

/** The MLflow route of the permission tests: the preset for MLflow's app, the assertion, no caller credential. */
export function permissionsRoute(
  upstream: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: 'mlflow',
    prefix: '/',
    upstream,
    preset: 'mlflow',
    mlflowPermissions: true,
    identityAssertion: true,
    forwardCredentials: false,
    ...extra,
  };
}
