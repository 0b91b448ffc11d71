/**
 * What a new operator tripped on: `diagnose` with Redis down printed an ioredis stack trace
 * (and no reason), `serve` said nothing when Redis was unreachable at start, and API-key
 * requests carried neither a key id nor a fingerprint in their lines.
 */
import request from 'supertest';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { spawn } from 'node:child_process';
import { CLI, ROOT, runCli, spawnProxy, writeConfig } from '../../helpers/process';
import {
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

jest.setTimeout(60_000);

const DOWN = 'redis://127.0.0.1:1';

test.each([[[]], [['--json']]])(
  'diagnose %j with Redis down: the reason, no stack trace',
  async (extra) => {
    const file = writeConfig({ redis: { url: DOWN } });
    const r = await runCli(['diagnose', '--config', file, ...extra]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ECONNREFUSED/);
    expect(r.stdout + r.stderr).not.toMatch(/Unhandled error event|at TCPConnectWrap|node:net/);
  },
);

test('serve with Redis unreachable at start says so: one redis down warn line with the reason', async () => {
  const p = await spawnProxy({
    server: { port: 0 },
    redis: { url: DOWN },
    routes: [{ name: 'a', prefix: '/', upstream: 'http://127.0.0.1:1', auth: 'none' }],
  });
  try {
    await waitFor('redis down line', () => p.stdout.some((l) => l.includes('"redis down"')));
    const lines = p.stdout.filter((l) => l.includes('"redis down"'));
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', reason: 'ECONNREFUSED' });
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

describe('API-key requests in the logs', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  const KEY = 'hok_live_edge-key-0123456789abcdef';

  beforeAll(async () => {
    service = await startAuthService();
    service.keys.set(KEY, { user_id: 'ci', scopes: ['read'], key_id: 'key_42' } as never);
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          hashSecret: 'edges-hash-secret-0123456789abcdefgh',
        },
      },
      routes: [{ name: 'api', prefix: '/', upstream: upstream.url, scopes: ['read'] }],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
    await service?.close();
  });

  test('an allowed request carries the key_id; a refused one the key fingerprint; never a key', async () => {
    await request(proxy.url).get('/ok').set('X-API-Key', KEY).expect(200);
    const bad = 'hok_live_not-a-known-key-987654321';
    await request(proxy.url).get('/bad').set('X-API-Key', bad).expect(401);
    const audit = (path: string) =>
      proxy.logs.entries().find((e) => e.type === 'audit' && e.path === path);
    const access = (path: string) =>
      proxy.logs.entries().find((e) => e.type === 'access' && e.path === path);
    expect(audit('/ok')).toMatchObject({ decision: 'allow', key_id: 'key_42' });
    expect(access('/ok')).toMatchObject({ key_id: 'key_42' });
    expect(audit('/bad')).toMatchObject({
      decision: 'deny',
      key_fingerprint: expect.stringMatching(/^hok_…#[0-9a-f]{8}$|^hok_.+#[0-9a-f]+$/),
    });
    expect(proxy.logs.text()).not.toContain(KEY);
    expect(proxy.logs.text()).not.toContain(bad);
  });
});

describe('the config from $AUTHGATE_CONFIG_YAML (ECS: an SSM parameter)', () => {
  const yaml = [
    'server: {port: 0}',
    'metrics: {port: 0}',
    'routes:',
    '  - {name: a, prefix: /, upstream: "http://127.0.0.1:1", auth: none}',
    '',
  ].join('\n');

  test('check-config and serve read it when no file is named', async () => {
    const checked = await runCli(['check-config'], { AUTHGATE_CONFIG_YAML: yaml });
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/^\$AUTHGATE_CONFIG_YAML: OK — 1 route\(s\)/);
    const p = await spawnProxyFromEnv(yaml);
    try {
      const res = await fetch(`${p.url}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  });

  test('a YAML mistake is one line in words at its position, not a cascade of codes', async () => {
    const broken = 'routes:\n  - name: a\n     prefix: /\n  upstream: [http://x\n';
    const r = await runCli(['check-config'], { AUTHGATE_CONFIG_YAML: broken });
    expect(r.code).toBe(1);
    const problems = r.stderr.split('\n').filter((l) => l.startsWith('  '));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ {2}line \d+, column \d+: YAML: [a-z].*\([A-Z_]+\)/);
  });
});

async function spawnProxyFromEnv(yaml: string) {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, AUTHGATE_CONFIG_YAML: yaml },
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"message":"listening".*?"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { child, exited, url: `http://127.0.0.1:${port}` };
}
