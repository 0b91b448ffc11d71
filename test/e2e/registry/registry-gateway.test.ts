/**
 * Authgate as a registry gateway, proven with the real CNCF distribution registry
 * (Debian's docker-registry) and the real `skopeo`. The caller authenticates to authgate with a
 * JWT (`--dest-registry-token`); authgate checks scopes and the tenant the repository path
 * names, then talks to the registry with its own credential — htpasswd basic auth, or a token
 * from the registry's token server got through the distribution token protocol.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '../../helpers/jwks';
import { layerDigestsOf, blobOf, writeOciImage, type OciImage } from '../../helpers/oci';
import {
  issuerCertificate,
  skopeo,
  startRegistry,
  startTokenServer,
  type Registry,
  type TokenServer,
} from '../../helpers/registry';
import { rawRequest, startProxy, type TestProxy } from '../../helpers/servers';

const SECRET = 'registry-gateway-test-secret-0123456789abcdef';
const SERVICE_USER = 'authgate-svc';
const SERVICE_PASSWORD = 'svc-password-7f3a9c';

function jwtFor(scopes: string, tenants: string[] = ['acme'], sub = 'alice'): string {
  return sign(SECRET, {
    iss: 'dev-issuer',
    sub,
    claims: { scope: scopes, tenant_ids: tenants },
  });
}

function gatewayConfig(
  registryUrl: string,
  realms: string[],
  preserveHost: boolean,
): Record<string, unknown> {
  return {
    auth: { jwt: { issuers: [{ issuer: 'dev-issuer', algorithms: ['HS256'], secret: SECRET }] } },
    routes: [
      {
        name: 'registry',
        prefix: '/v2',
        upstream: registryUrl,
        // false (htpasswd case): the registry sees its own host, and — its public URL set in
        // http.host, as a virtual-hosted registry such as ACR has — answers with its own absolute
        // upload URLs, which authgate turns into paths on itself.
        preserveHost,
        auth: 'required',
        scopes: { GET: ['registry:pull'], HEAD: ['registry:pull'], '*': ['registry:push'] },
        tenantPathSegment: 1,
        upstreamAuth: {
          mode: 'service',
          providers: [{ type: 'env' }],
          tokenExchange: { realms },
        },
      },
    ],
  };
}

const serviceEnv = { REGISTRY_USERNAME: SERVICE_USER, REGISTRY_PASSWORD: SERVICE_PASSWORD };

function copy(
  from: string,
  to: string,
  token: string,
): Promise<{ code: number | null; out: string }> {
  return skopeo([
    'copy',
    '--retry-times',
    '0',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    ...(from.startsWith('docker://') ? ['--src-registry-token', token] : []),
    ...(to.startsWith('docker://') ? ['--dest-registry-token', token] : []),
    from,
    to,
  ]);
}

function expectSameImage(pushed: OciImage, pulledDir: string): void {
  const pulled = layerDigestsOf(pulledDir, pushed.tag);
  expect(pulled).toEqual([pushed.layerDigest]);
  expect(blobOf(pulledDir, pushed.layerDigest).equals(blobOf(pushed.dir, pushed.layerDigest))).toBe(
    true,
  );
}

describe.each(['htpasswd', 'token'] as const)('registry gateway (%s auth)', (kind) => {
  let registry: Registry;
  let tokens: TokenServer | undefined;
  let proxy: TestProxy;
  let image: OciImage;
  const work = mkdtempSync(join(tmpdir(), 'authgate-oci-'));

  beforeAll(async () => {
    if (kind === 'htpasswd') {
      registry = await startRegistry(
        { kind: 'htpasswd', username: SERVICE_USER, password: SERVICE_PASSWORD },
        { absoluteUrls: true },
      );
    } else {
      const cert = issuerCertificate(work);
      tokens = await startTokenServer({
        username: SERVICE_USER,
        password: SERVICE_PASSWORD,
        service: 'test-registry',
        issuer: 'test-token-issuer',
        keyPem: cert.keyPem,
        certPem: cert.certPem,
      });
      registry = await startRegistry({
        kind: 'token',
        realm: tokens.realm,
        service: 'test-registry',
        issuer: 'test-token-issuer',
        certFile: cert.certFile,
      });
    }
    proxy = await startProxy(
      gatewayConfig(registry.url, tokens ? [tokens.realm] : [], kind === 'token'),
      {
        env: serviceEnv,
      },
    );
    image = writeOciImage(join(work, 'src'), 'v1', 512 * 1024);
  });

  afterAll(async () => {
    await proxy?.close();
    await registry?.close();
    await tokens?.close();
  });

  const at = (repo: string): string => `docker://127.0.0.1:${proxy.port}/${repo}`;
  const getAs = (path: string, token: string) =>
    rawRequest(proxy.url, {
      path,
      headers: ['Host', `127.0.0.1:${proxy.port}`, 'Authorization', `Bearer ${token}`],
    });

  it('skopeo pushes an image through authgate and pulls back the same image', async () => {
    const token = jwtFor('registry:pull registry:push');
    const push = await copy(`oci:${image.dir}:v1`, at('acme/models:v1'), token);
    expect(push.out).not.toContain('level=fatal');
    expect(push.code).toBe(0);

    const pulledDir = join(work, `pulled-${kind}`);
    const pull = await copy(at('acme/models:v1'), `oci:${pulledDir}:v1`, jwtFor('registry:pull'));
    expect(pull.code).toBe(0);
    expectSameImage(image, pulledDir);
    expect(readdirSync(join(pulledDir, 'blobs', 'sha256')).sort()).toEqual(
      readdirSync(join(image.dir, 'blobs', 'sha256')).sort(),
    );

    // The registry really holds it: its own access log saw the manifest PUT, through authgate.
    expect(registry.accessLog()).toContain('PUT /v2/acme/models/manifests/v1 201');
    if (tokens) {
      // One exchange serves many requests: a token per scope, not per request.
      const upstreamRequests = registry.accessLog().length;
      expect(tokens.requests.length).toBeGreaterThan(0);
      expect(tokens.requests.length).toBeLessThanOrEqual(4);
      expect(upstreamRequests).toBeGreaterThan(tokens.requests.length * 3);
      // Only authgate's own credential ever reached the token server, never a caller's JWT.
      for (const r of tokens.requests) {
        expect(r.authorization).toBe(
          `Basic ${Buffer.from(`${SERVICE_USER}:${SERVICE_PASSWORD}`).toString('base64')}`,
        );
        expect(r.status).toBe(200);
      }
    }
    // The caller's JWT never reached the registry or a log line.
    expect(proxy.logs.text()).not.toContain(token);
    expect(proxy.logs.text()).not.toContain(SERVICE_PASSWORD);
  });

  it('the /v2/ ping with a valid JWT answers as the registry does for authgate (200)', async () => {
    const res = await getAs('/v2/', jwtFor('registry:pull'));
    expect(res.status).toBe(200);
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  it('a caller without a valid JWT never reaches the registry', async () => {
    const before = registry.accessLog().length;
    const pull = await copy(at('acme/models:v1'), `oci:${join(work, 'nope')}:v1`, 'not-a-jwt');
    expect(pull.code).not.toBe(0);
    const forged = jwtFor('registry:pull').slice(0, -2) + 'xx';
    const res = await getAs('/v2/acme/models/manifests/v1', forged);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString()).error_code).toBe('TOKEN_INVALID');
    expect(registry.accessLog().length).toBe(before);
  });

  it('a caller without the push scope cannot push, and the registry sees no upload', async () => {
    const before = registry.accessLog().length;
    const push = await copy(`oci:${image.dir}:v1`, at('acme/readonly:v1'), jwtFor('registry:pull'));
    expect(push.code).not.toBe(0);
    const seen = registry.accessLog().slice(before);
    expect(seen.filter((l) => /^(POST|PUT|PATCH) /.test(l))).toEqual([]);
  });

  it("another tenant's repository is refused before the registry", async () => {
    const before = registry.accessLog().length;
    const res = await getAs(
      '/v2/globex/models/manifests/v1',
      jwtFor('registry:pull registry:push'),
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body.toString()).error_code).toBe('TENANT_FORBIDDEN');
    const pull = await copy(
      at('globex/models:v1'),
      `oci:${join(work, 'globex')}:v1`,
      jwtFor('registry:pull'),
    );
    expect(pull.code).not.toBe(0);
    expect(
      registry
        .accessLog()
        .slice(before)
        .filter((l) => l.includes('/globex/')),
    ).toEqual([]);
    // The catalogue lists every tenant's repositories: not a tenant, so refused too.
    const catalog = await getAs('/v2/_catalog', jwtFor('registry:pull'));
    expect(catalog.status).toBe(403);
  });

  it('the identity goes upstream in X-User-ID and X-Tenant-ID, the credential is authgate’s', async () => {
    const res = await getAs('/v2/acme/models/tags/list', jwtFor('registry:pull', ['acme'], 'bob'));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ name: 'acme/models', tags: ['v1'] });
    const access = proxy.logs
      .entries()
      .filter((e) => e.type === 'access' && e.path === '/v2/acme/models/tags/list');
    expect(access.at(-1)).toMatchObject({ user_id: 'bob', tenant_id: 'acme', status: 200 });
  });
});
