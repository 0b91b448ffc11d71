/**
 * A GET/HEAD/DELETE/OPTIONS with a chunked body reached the upstream with
 * its body unframed, so the upstream parsed the body as a second, unchecked request
 * ("GET /public" carrying "GET /admin/secret" with "X-User-ID: root").
 */
import { chunked, rawExchange, statusesIn } from '../../helpers/raw-socket';
import { useProxy, route } from '../../helpers/servers';

describe('request smuggling through a chunked body on a body-less method', () => {
  const f = useProxy((url) => ({
    routes: [route(url, { name: 'public', prefix: '/public' })],
  }));

  const smuggled = 'GET /admin/secret HTTP/1.1\r\nHost: up\r\nX-User-ID: root\r\n\r\n';

  it.each(['GET', 'HEAD', 'DELETE', 'OPTIONS'])(
    '%s /public with a chunked body: one upstream request, body intact',
    async (method) => {
      const before = f.upstream.seen.length;
      const raw = await rawExchange(
        f.proxy.port,
        `${method} /public HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
          chunked(smuggled),
      );
      expect(statusesIn(raw)).toEqual([200]);
      // Let any smuggled second request arrive before counting.
      await new Promise((r) => setTimeout(r, 100));
      const seen = f.upstream.seen.slice(before);
      expect(seen.map((s) => s.url)).toEqual(['/public']);
      expect(seen[0]!.bodyBytes).toBe(Buffer.byteLength(smuggled));
      expect(f.upstream.seen.some((s) => s.url.startsWith('/admin'))).toBe(false);
    },
  );

  it('a transfer coding other than chunked is refused with 400, nothing forwarded', async () => {
    const before = f.upstream.seen.length;
    const raw = await rawExchange(
      f.proxy.port,
      'POST /public HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n' +
        chunked('x'),
    );
    expect(statusesIn(raw)).toEqual([400]);
    expect(f.upstream.seen.length).toBe(before);
  });
});
