/**
 * The real MLflow tracking server (pinned in test/mlflow/MLFLOW_VERSION, installed by
 * scripts/install-mlflow.sh) and the real MLflow Python client, for the MLflow tests.
 * No stand-in: the server is `mlflow server` with a SQLite store and the artifact proxy, under
 * gunicorn, whose access log records the headers the server received.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  if (options.basicAuth) {
    args.push('--app-name', 'basic-auth');
    env.MLFLOW_AUTH_CONFIG_PATH = writeAuthConfig(dir, options.basicAuth);
    env.MLFLOW_FLASK_SERVER_SECRET_KEY = 'authgate-test-secret';
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
    seen: () =>
      existsSync(accessLog)
        ? readFileSync(accessLog, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as ServerSeen)
        : [],
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
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

/** Runs test/mlflow/client.py with the real MLflow client; env holds MLFLOW_* settings. */
export function runClient(args: string[], env: NodeJS.ProcessEnv): Promise<ClientResult> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [join(ROOT, 'test/mlflow/client.py'), ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MLFLOW_LOGGING_LEVEL: 'WARNING',
        ...env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(last) as Record<string, unknown>;
      } catch {
        /* the test shows stdout/stderr */
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}
