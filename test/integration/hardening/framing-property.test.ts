/**
 * Generated requests (methods × framings × bodies × header sets × routes)
 * driven through the real parser, proxy and a real upstream. Invariants: exactly one response
 * per client request; one upstream request when admitted, none when refused; the body arrives
 * byte-for-byte; protected headers are never dropped (not even through `Connection`) nor
 * spoofed past the identity checks.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { sign } from '../../helpers/jwks';
import { rawExchange, statusesIn } from '../../helpers/raw-socket';
import { pairs, route, useProxy } from '../../helpers/servers';

const SECRET = 'framing-property-secret-0123456789abcdef';
const TOKEN = sign(SECRET, { iss: 'prop', sub: 'alice', claims: { tenant_ids: ['t1'] } });
const SMUGGLE = 'GET /admin HTTP/1.1\r\nHost: x\r\nX-User-ID: root\r\n\r\n';

interface Generated {
  method: string;
  secure: boolean;
  credential: boolean;
  body: Buffer;
  framing: 'length' | 'chunked' | 'none';
  chunkSizes: number[];
  userId?: string;
  workspace?: string;
  connection: string;
  requestId: string;
  /** A spoofing attempt that must be refused with 400 before anything is forwarded. */
  spoof?: readonly string[];
}

const requestArb: fc.Arbitrary<Generated> = fc
  .record({
    method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
    secure: fc.boolean(),
    credential: fc.boolean(),
    body: fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
      fc.constant(Buffer.from(SMUGGLE)),
      fc.string({ maxLength: 200 }).map((s) => Buffer.from(SMUGGLE + s + '\r\n0\r\n\r\n')),
    ),
    framing: fc.constantFrom('length', 'chunked', 'none'),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 6 }),
    userId: fc.option(fc.constantFrom('alice', 'root'), { nil: undefined }),
    workspace: fc.option(fc.constantFrom('t1', 't2'), { nil: undefined }),
    connection: fc.constantFrom(
      'close',
      'close, X-User-ID',
      'close, X-Workspace',
      'close, Authorization',
      'close, X-Request-ID, Content-Length',
    ),
    requestId: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
    spoof: fc.option(
      fc.constantFrom(
        ['X_User_ID', 'root'],
        ['x_workspace', 't2'],
        ['X-Workspace', 't1, t2'],
        ['X-User-ID', 'alice', 'X-User-ID', 'root'],
        ['Transfer-Encoding', 'gzip'],
      ),
      { nil: undefined },
    ),
  })
  .map((g) => (g.framing === 'none' ? { ...g, body: Buffer.alloc(0) } : g));

function encode(g: Generated): Buffer {
  const lines = [`${g.method} ${g.secure ? '/secure' : '/open'}/x HTTP/1.1`, 'Host: h'];
  if (g.credential) lines.push(`Authorization: Bearer ${TOKEN}`);
  if (g.userId) lines.push(`X-User-ID: ${g.userId}`);
  if (g.workspace) lines.push(`X-Workspace: ${g.workspace}`);
  lines.push(`X-Request-ID: ${g.requestId}`, `Connection: ${g.connection}`);
  for (let i = 0; g.spoof && i < g.spoof.length; i += 2)
    lines.push(`${g.spoof[i]}: ${g.spoof[i + 1]}`);
  let body = g.body;
  if (g.framing === 'length') lines.push(`Content-Length: ${body.length}`);
  if (g.framing === 'chunked') {
    lines.push('Transfer-Encoding: chunked');
    const parts: Buffer[] = [];
    let at = 0;
    let i = 0;
    while (at < body.length) {
      const n = Math.min(g.chunkSizes[i++ % g.chunkSizes.length]!, body.length - at);
      parts.push(
        Buffer.from(`${n.toString(16)}\r\n`),
        body.subarray(at, at + n),
        Buffer.from('\r\n'),
      );
      at += n;
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    body = Buffer.concat(parts);
  }
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
}

/** What the model says authgate must answer. */
function expectedStatus(g: Generated): number {
  if (g.spoof) return 400;
  if (!g.secure) return 200;
  if (!g.credential) return 401;
  if (g.userId === 'root') return 403;
  if (g.workspace === 't2') return 403;
  return 200;
}

describe('property — parser to upstream, one request in, at most one request out', () => {
  const f = useProxy((url) => ({
    auth: { jwt: { issuers: [{ issuer: 'prop', algorithms: ['HS256'], secret: SECRET }] } },
    routes: [
      route(url, { name: 'open', prefix: '/open', tenantHeader: 'X-Workspace' }),
      route(url, {
        name: 'secure',
        prefix: '/secure',
        auth: 'required',
        tenantHeader: 'X-Workspace',
      }),
    ],
  }));

  it('holds for generated requests', async () => {
    let forwarded = 0;
    await fc.assert(
      fc.asyncProperty(requestArb, async (g) => {
        const before = f.upstream.seen.length;
        const raw = await rawExchange(f.proxy.port, encode(g), 1000);
        const want = expectedStatus(g);
        expect(statusesIn(raw)).toEqual([want]);
        const seen = f.upstream.seen.slice(before);
        if (want !== 200) {
          expect(seen).toHaveLength(0);
          return;
        }
        forwarded++;
        expect(seen).toHaveLength(1);
        const up = seen[0]!;
        expect(up.method).toBe(g.method);
        expect(up.bodyBytes).toBe(g.body.length);
        expect(up.bodyHash).toBe(createHash('sha256').update(g.body).digest('hex'));
        const headers = pairs(up.rawHeaders);
        const values = (name: string): string[] =>
          headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
        expect(values('x-request-id')).toEqual([g.requestId]);
        expect(values('x-workspace')).toEqual(g.workspace ? [g.workspace] : []);
        expect(values('authorization')).toEqual(g.credential ? [`Bearer ${TOKEN}`] : []);
        const userIds = values('x-user-id');
        if (g.userId) expect(userIds).toEqual([g.userId]);
        else expect(userIds).toEqual(g.secure ? ['alice'] : []);
      }),
      { numRuns: 80 },
    );
    // A request smuggled in a body would arrive after its carrier: look once more at the end.
    await new Promise((r) => setTimeout(r, 200));
    expect(f.upstream.seen.filter((s) => s.url.startsWith('/admin'))).toHaveLength(0);
    expect(f.upstream.seen.length).toBe(forwarded);
  });
});
