/**
 * Reload without a restart: `authgate serve` as a real process, its config file rewritten and
 * SIGHUP sent (or `server.watchConfig`), under load from keep-alive clients. New requests get the
 * new routes and scopes, none fails, a bad config keeps the old one serving with one error line,
 * restart-only keys are refused, and with --workers the primary passes the reload on.
 */
import { writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { stringify } from 'yaml';
import { sign } from '../../helpers/jwks';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';
import { startUpstream, type TestUpstream } from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

jest.setTimeout(120_000);

const SECRET = 'reload-secret-0123456789abcdefghijkl';
const token = sign(SECRET, { iss: 'idp', claims: { scope: 'read' } });

function configWith(upstream: string, routes: Array<Record<string, unknown>>, server = {}) {
  return {
    metrics: { port: 0 },
    server: { port: 0, drainDelayMs: 0, ...server },
    auth: { jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] } },
    routes: routes.map((r) => ({ upstream, ...r })),
  };
}

const fileOf = (p: ProxyProcess): string =>
  p.child.spawnargs[p.child.spawnargs.indexOf('--config') + 1]!;

function get(
  url: string,
  path: string,
  agent?: Agent,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(
      `${url}${path}`,
      { agent, headers: { Authorization: `Bearer ${token}` } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

const lines = (p: ProxyProcess) =>
  p.stdout.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

const metric = async (p: ProxyProcess, name: string): Promise<string[]> => {
  const res = await fetch(`${p.url}/metrics`);
  return (await res.text()).split('\n').filter((l) => l.startsWith(name));
};

describe('reload (SIGHUP, watchConfig)', () => {
  let upstream: TestUpstream;
  const procs: ProxyProcess[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(async () => {
    for (const p of procs) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    await upstream?.close();
  });

  async function spawn(config: Record<string, unknown>, args: string[] = []) {
    const p = await spawnProxy(config, {}, args);
    procs.push(p);
    return p;
  }

  test('under load: the new routes and scopes take over, zero failed requests, no connection dropped', async () => {
    const before = [
      { name: 'a', prefix: '/a', scopes: ['read'] },
      { name: 'old', prefix: '/old', scopes: ['read'] },
      { name: 'c', prefix: '/c', scopes: ['read'] },
    ];
    const after = [
      { name: 'a', prefix: '/a', scopes: ['read'] },
      { name: 'new', prefix: '/new', scopes: ['read'] },
      { name: 'c', prefix: '/c', scopes: ['write'] }, // now refused for a read-only token
    ];
    const p = await spawn(configWith(upstream.url, before));
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const results: Array<{ status: number; body: string } | { error: string }> = [];
    let running = true;
    // The load is on a route both configs serve alike: every answer must be a 200.
    const clients = Array.from({ length: 8 }, async () => {
      while (running) results.push(await get(p.url, '/a/x', agent));
    });
    await waitFor('load running', () => results.length > 500);
    writeFileSync(fileOf(p), stringify(configWith(upstream.url, after)));
    p.child.kill('SIGHUP');
    await waitFor('config reloaded', () => lines(p).some((l) => l.message === 'config reloaded'));
    const at = results.length;
    await waitFor('load after the reload', () => results.length > at + 500);
    running = false;
    await Promise.all(clients);
    agent.destroy();

    const failed = results.filter((r) => 'error' in r || r.status !== 200);
    console.log(`reload under load: ${results.length} requests, ${failed.length} failed`);
    expect({ requests: results.length, failed: failed.length }).toEqual({
      requests: results.length,
      failed: 0,
    });
    // The new config is in force: the old route is gone, /a needs write now.
    expect((await get(p.url, '/old/x')) as { status: number }).toMatchObject({ status: 404 });
    expect((await get(p.url, '/new/x')) as { status: number }).toMatchObject({ status: 200 });
    expect((await get(p.url, '/c/x')) as { status: number }).toMatchObject({ status: 403 });
    expect(await metric(p, 'authgate_config_reloads_total')).toContain(
      'authgate_config_reloads_total{result="success"} 1',
    );
    expect(p.child.exitCode).toBeNull();
  });

  test('a bad config keeps the running one, with one error line and a failure counted', async () => {
    const p = await spawn(
      configWith(upstream.url, [{ name: 'a', prefix: '/a', scopes: ['read'] }]),
    );
    const [info] = await metric(p, 'authgate_config_info');
    writeFileSync(fileOf(p), 'routes:\n  - name: a\n    prefix: /a\n    upstream: not a url\n');
    p.child.kill('SIGHUP');
    await waitFor('reload failed', () =>
      lines(p).some((l) => l.message === 'config reload failed; the running config stays'),
    );
    const failure = lines(p).find(
      (l) => l.message === 'config reload failed; the running config stays',
    )!;
    expect(failure.level).toBe('error');
    expect(JSON.stringify(failure.problems)).toMatch(/routes\[0\]\.upstream/);
    expect((await get(p.url, '/a/x')) as { status: number }).toMatchObject({ status: 200 });
    expect(await metric(p, 'authgate_config_reloads_total')).toContain(
      'authgate_config_reloads_total{result="failure"} 1',
    );
    expect(await metric(p, 'authgate_config_info')).toEqual([info]);
  });

  test('restart-only keys are refused on reload, naming the key', async () => {
    const p = await spawn(
      configWith(upstream.url, [{ name: 'a', prefix: '/a', scopes: ['read'] }]),
    );
    writeFileSync(
      fileOf(p),
      stringify(
        configWith(upstream.url, [{ name: 'a', prefix: '/a', scopes: ['write'] }], {
          port: 1,
        }),
      ),
    );
    p.child.kill('SIGHUP');
    await waitFor('reload refused', () =>
      lines(p).some((l) => l.message === 'config reload failed; the running config stays'),
    );
    const failure = lines(p).find(
      (l) => l.message === 'config reload failed; the running config stays',
    )!;
    expect(failure.problems).toEqual(['server.port changed: it needs a restart']);
    // Nothing of the new config took effect.
    expect((await get(p.url, '/a/x')) as { status: number }).toMatchObject({ status: 200 });
  });

  test('server.watchConfig: a change of the file is reloaded without a signal', async () => {
    const server = { watchConfig: true, watchConfigIntervalMs: 100 };
    const p = await spawn(
      configWith(upstream.url, [{ name: 'a', prefix: '/a', scopes: ['read'] }], server),
    );
    writeFileSync(
      fileOf(p),
      stringify(
        configWith(
          upstream.url,
          [
            { name: 'a', prefix: '/a', scopes: ['read'] },
            { name: 'b', prefix: '/b', scopes: ['read'] },
          ],
          server,
        ),
      ),
    );
    await waitFor('the new route served', async () => {
      const r = await get(p.url, '/b/x');
      return 'status' in r && r.status === 200;
    });
    expect(lines(p).find((l) => l.message === 'config reload')).toMatchObject({
      trigger: 'file changed',
    });
  });

  test('with --workers 2, SIGHUP to the primary reloads every worker', async () => {
    const p = await spawn(
      configWith(upstream.url, [{ name: 'a', prefix: '/a', scopes: ['read'] }]),
      ['--workers', '2'],
    );
    await waitFor(
      'both workers listening',
      () => lines(p).filter((l) => l.message === 'listening').length === 2,
    );
    writeFileSync(
      fileOf(p),
      stringify(configWith(upstream.url, [{ name: 'b', prefix: '/b', scopes: ['read'] }])),
    );
    p.child.kill('SIGHUP');
    await waitFor(
      'both workers reloaded',
      () => lines(p).filter((l) => l.message === 'config reloaded').length === 2,
    );
    // Whichever worker answers, the new config is in force.
    const agentless = await Promise.all(Array.from({ length: 20 }, () => get(p.url, '/b/x')));
    expect(agentless.map((r) => ('status' in r ? r.status : r.error))).toEqual(Array(20).fill(200));
    expect(p.child.exitCode).toBeNull();
  });
});
