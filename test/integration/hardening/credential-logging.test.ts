/**
 * an Authorization value without a scheme, with a comma (`Bearer,x`) or with
 * another scheme (`Token x`, Digest `response=`) was logged, lower-cased, as `other_scheme`.
 * `access_token` in the query passed when its name was percent-encoded.
 */
import { rawRequest, route, useProxy } from '../../helpers/servers';

const SECRET = 'credential-logging-secret-0123456789ab';

describe('credential values never in logs, whatever their shape', () => {
  const f = useProxy((url) => ({
    logging: { level: 'debug' },
    auth: { jwt: { issuers: [{ issuer: 'log', algorithms: ['HS256'], secret: SECRET }] } },
    routes: [route(url, { auth: 'optional' })],
  }));

  it.each([
    ['no scheme', 'S3cretNoSchemeValue42'],
    ['a comma after Bearer', 'Bearer,S3cretAfterComma42'],
    ['Token scheme', 'Token S3cretTokenValue42'],
    ['Digest response', 'Digest username="u", realm="r", response="S3cretDigestResp42"'],
    ['a custom scheme', 'S3cretScheme42 value'],
    ['comma-joined schemes', 'Basic abc, S3cretJoined42'],
  ])('%s: presence and scheme only', async (_name, value) => {
    f.proxy.logs.lines.length = 0;
    await rawRequest(f.proxy.url, { path: '/x', headers: ['Host', 'h', 'Authorization', value] });
    const text = f.proxy.logs.text().toLowerCase();
    expect(text).toContain('"scheme"');
    expect(text).not.toContain('s3cret');
  });
});

describe('query tokens refused after decoding the parameter name', () => {
  const f = useProxy((url) => ({ routes: [route(url)] }));

  it.each([
    '?access_token=abc',
    '?access%5Ftoken=abc',
    '?%61ccess_token=abc',
    '?a=1&ACCESS_TOKEN=abc',
    '?x=1;access%5ftoken=abc',
    '?access_token',
  ])('%s → 400, nothing forwarded', async (query) => {
    const before = f.upstream.seen.length;
    const res = await rawRequest(f.proxy.url, { path: `/x${query}`, headers: ['Host', 'h'] });
    expect(res.status).toBe(400);
    expect(f.upstream.seen.length).toBe(before);
  });

  it.each(['?access_tokens=1', '?my_access_token=1', '?q=access_token'])(
    '%s is another parameter and passes',
    async (query) => {
      const res = await rawRequest(f.proxy.url, { path: `/x${query}`, headers: ['Host', 'h'] });
      expect(res.status).toBe(200);
    },
  );
});
