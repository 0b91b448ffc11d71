/**
 * The auth-service contract (docs/auth-service.openapi.yaml) holds on both sides: the stand-in
 * service every API-key test uses answers by it, authgate's own requests (validate and the
 * `api-key` commands) are what it describes, and authgate's parser reads its examples as it
 * says — `expires_at` in epoch seconds, a key refused when a field breaks the schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import request from 'supertest';
import { parseVerdict } from '../../../src/auth/api-key-service';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { ROOT, runCli, writeConfig } from '../../helpers/process';
import {
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<
          string,
          { content?: { 'application/json': { examples?: Record<string, { value: unknown }> } } }
        >;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
}
const api = parse(readFileSync(join(ROOT, 'docs/auth-service.openapi.yaml'), 'utf8')) as OpenApi;
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: 'api', components: api.components } as object);
const check = (name: string, value: unknown): string[] => {
  const validate = ajv.getSchema(`api#/components/schemas/${name}`)!;
  return validate(value)
    ? []
    : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
};
const verdict = (value: unknown): string[] => {
  const a = check('ValidKey', value);
  const b = check('InvalidKey', value);
  return a.length === 0 || b.length === 0 ? [] : [...a, ...b];
};

const KEY = 'hok_live_contract-key-0123456789abcdef';

describe('the auth-service contract', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    service = await startAuthService();
    service.keys.set(KEY, {
      user_id: 'svc-reports',
      scopes: ['reports:read'],
      tenant_ids: ['acme'],
      expires_at: Math.floor(Date.now() / 1000) + 3600,
      key_id: 'key_7',
    } as never);
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          adminUrl: service.adminUrl,
          hashSecret: 'contract-hash-secret-0123456789abcdef',
        },
      },
      routes: [{ name: 'api', prefix: '/', upstream: upstream.url, scopes: ['reports:read'] }],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
    await service?.close();
  });

  test("authgate's validate requests and the stand-in's answers are the contract's", async () => {
    await request(proxy.url).get('/x').set('X-API-Key', KEY).expect(200);
    await request(proxy.url).get('/x').set('X-API-Key', 'hok_live_unknown-0123456789').expect(401);
    expect(service.bodies.length).toBeGreaterThanOrEqual(2);
    for (const body of service.bodies)
      expect(check('ValidateRequest', JSON.parse(body))).toEqual([]);
    for (const key of [KEY, 'hok_live_unknown-0123456789']) {
      const res = await fetch(service.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ api_key: key }),
      });
      expect(res.status).toBe(200);
      expect(verdict(await res.json())).toEqual([]);
    }
  });

  test("the api-key commands' requests and the stand-in's admin answers are the contract's", async () => {
    const file = writeConfig({
      auth: {
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          adminUrl: service.adminUrl,
          hashSecret: 'contract-hash-secret-0123456789abcdef',
        },
      },
    });
    const env = { AUTHGATE_ADMIN_TOKEN: service.adminToken };
    const created = await runCli(
      ['api-key', 'create', '--name', 'ci', '--scopes', 'a:read', 'a:write', '--config', file],
      env,
    );
    expect(created.code).toBe(0);
    const create = service.adminCalls.find((c) => c.method === 'POST')!;
    expect(check('CreateRequest', JSON.parse(create.body))).toEqual([]);
    const auth = { Authorization: `Bearer ${service.adminToken}` };
    const listed = await (await fetch(service.adminUrl, { headers: auth })).json();
    expect(check('KeyList', listed)).toEqual([]);
    const made = await fetch(service.adminUrl, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'x',
        service_id: 'x',
        environment: 'test',
        scopes: ['s'],
        tenant_ids: [],
      }),
    });
    expect(made.status).toBe(201);
    expect(check('Created', await made.json())).toEqual([]);
  });

  test("the contract's examples read as it says, and what breaks the schema is refused by authgate too", () => {
    const examples =
      api.paths['/validate']!.post!.responses['200']!.content!['application/json'].examples!;
    const valid = parseVerdict(examples.valid!.value);
    expect(valid).toEqual({
      verdict: expect.objectContaining({
        valid: true,
        userId: 'svc-reports',
        expiresAt: 1893456000,
        keyId: 'key_42',
      }),
    });
    expect(parseVerdict(examples.invalid!.value)).toEqual({ verdict: { valid: false } });
    for (const broken of [
      { valid: true, user_id: 'u', expires_at: '2030-01-01T00:00:00Z' }, // not epoch seconds
      { valid: true, user_id: 'has space' },
      { valid: true, user_id: 'u', scopes: [{ nested: true }] },
      { valid: 'yes', user_id: 'u' },
    ]) {
      expect(verdict(broken)).not.toEqual([]);
      expect(parseVerdict(broken)).toHaveProperty('breach');
    }
  });
});
