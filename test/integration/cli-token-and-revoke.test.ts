import { spawn } from 'node:child_process';
import request from 'supertest';
import { startAuthService } from '../helpers/auth-service';
import { CLI, ROOT, runCli, writeConfig } from '../helpers/process';
import { REDIS_URL, uniquePrefix } from '../helpers/redis';
import { route, startProxy, startUpstream, waitForRedis } from '../helpers/servers';

function runWithStdin(
  args: string[],
  stdin: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('authgate token', () => {
  it('mint → decode round trip; decode masks the signature and shows human times', async () => {
    const minted = await runCli([
      'token',
      'mint',
      '--secret',
      'x'.repeat(40),
      '--sub',
      'bob',
      '--aud',
      'api',
      '--scope',
      'a b',
      '--tenant',
      't1',
      '--ttl',
      '600',
    ]);
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const decoded = await runWithStdin(['token', 'decode'], token);
    expect(decoded.code).toBe(0);
    const out = JSON.parse(decoded.stdout) as {
      claims: Record<string, unknown>;
      times: Record<string, string>;
      signature: string;
    };
    expect(out.claims).toMatchObject({
      sub: 'bob',
      aud: 'api',
      scope: 'a b',
      tenant_ids: ['t1'],
      iss: 'authgate-dev',
    });
    expect(out.times.exp).toMatch(/in \d+s/);
    expect(decoded.stdout).not.toContain(token.split('.')[2]);
  });

  it('mint works without --aud, and the token is accepted by an issuer with no audience', async () => {
    const secret = 'mint-without-aud-secret-0123456789abcdef';
    const minted = await runCli([
      'token',
      'mint',
      '--secret',
      secret,
      '--iss',
      'dev',
      '--sub',
      'ann',
    ]);
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    const upstream = await startUpstream();
    const proxy = await startProxy({
      auth: { jwt: { issuers: [{ issuer: 'dev', algorithms: ['HS256'], secret }] } },
      routes: [route(upstream.url, { auth: 'required' })],
    });
    try {
      expect(
        (await request(proxy.url).get('/x').set('Authorization', `Bearer ${token}`)).status,
      ).toBe(200);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  it.each([
    [
      ['--secret-env', 'AUTHGATE_TEST_UNSET_VAR'],
      /--secret-env AUTHGATE_TEST_UNSET_VAR: that environment variable is not set/,
    ],
    [['--secret', 's', '--ttl', '1h'], /--ttl must be a whole number of seconds/],
    [['--secret', 's', '--ttl', '0'], /--ttl must be a whole number of seconds/],
  ])('mint %j is a clear usage error (exit 2)', async (args, message) => {
    const r = await runCli(['token', 'mint', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('decode accepts a pasted "Bearer …" or "Authorization: Bearer …" value', async () => {
    const minted = await runCli([
      'token',
      'mint',
      '--secret',
      'pasted-value-secret-0123456789abcdef',
      '--sub',
      'pat',
    ]);
    const token = minted.stdout.trim();
    for (const pasted of [
      `Bearer ${token}`,
      `Authorization: Bearer ${token}`,
      `bearer   ${token}`,
    ]) {
      const r = await runCli(['token', 'decode', pasted]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).claims.sub).toBe('pat');
    }
  });

  it('decode refuses garbage with exit 1', async () => {
    const r = await runCli(['token', 'decode', 'not-a-token']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a JWT');
  });
});

describe('authgate api-key revoke', () => {
  it('revokes a key on a running instance through Redis', async () => {
    const service = await startAuthService();
    const upstream = await startUpstream();
    const prefix = uniquePrefix();
    const config = {
      redis: { url: REDIS_URL, keyPrefix: prefix },
      auth: {
        apiKeys: {
          prefixes: ['hok_test_'],
          validateUrl: service.url,
          hashSecret: 'revoke-test-hash-secret-0123456789',
        },
      },
      routes: [route(upstream.url, { auth: 'required' })],
    };
    const proxy = await startProxy(config);
    try {
      await waitForRedis(proxy);
      const key = 'hok_test_revoke_me_123456';
      service.keys.set(key, { user_id: 'u' });
      expect((await request(proxy.url).get('/').set('X-API-Key', key)).status).toBe(200);
      service.keys.delete(key);
      const r = await runWithStdin(
        ['api-key', 'revoke', '--config', writeConfig(config)],
        `${key}\n`,
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/1 running instance\(s\) notified/);
      await new Promise((res) => setTimeout(res, 100));
      expect((await request(proxy.url).get('/').set('X-API-Key', key)).status).toBe(401);
    } finally {
      await proxy.close();
      await upstream.close();
      await service.close();
    }
  });
});
