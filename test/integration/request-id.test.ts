import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { pairs, rawRequest, route, useProxy } from '../helpers/servers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('X-Request-ID', () => {
  const f = useProxy((url) => ({ routes: [route(url)] }));

  const upstreamIds = (): string[] =>
    pairs(f.upstream.seen[f.upstream.seen.length - 1]!.rawHeaders)
      .filter(([n]) => n.toLowerCase() === 'x-request-id')
      .map(([, v]) => v);

  it('generates one when absent, sends it upstream, echoes it and logs it', async () => {
    const res = await request(f.proxy.url).get('/gen');
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(UUID);
    expect(upstreamIds()).toEqual([id]);
    const access = f.proxy.logs.entries().find((e) => e.type === 'access' && e.path === '/gen');
    expect(access?.request_id).toBe(id);
  });

  it.each([
    ['simple', 'abc'],
    ['all allowed characters', 'A-z_0.9:x'],
    ['128 chars', 'a'.repeat(128)],
    ['a uuid', randomUUID()],
  ])('keeps a sane one (%s)', async (_n, id) => {
    const res = await request(f.proxy.url).get('/keep').set('X-Request-ID', id);
    expect(res.headers['x-request-id']).toBe(id);
    expect(upstreamIds()).toEqual([id]);
  });

  it.each([
    ['too long', 'a'.repeat(129)],
    ['spaces', 'a b'],
    ['slash', 'a/b'],
    ['quote', 'a"b'],
    ['empty', ''],
  ])('replaces an insane one (%s)', async (_n, id) => {
    const res = await rawRequest(f.proxy.url, {
      path: '/replace',
      headers: ['Host', 'h', 'X-Request-ID', id],
    });
    const echoed = res.headers['x-request-id'] as string;
    expect(echoed).toMatch(UUID);
    expect(upstreamIds()).toEqual([echoed]);
  });

  it('replaces two ids with one new one', async () => {
    const res = await rawRequest(f.proxy.url, {
      path: '/two',
      headers: ['Host', 'h', 'X-Request-ID', 'a', 'X-Request-ID', 'b'],
    });
    const echoed = res.headers['x-request-id'] as string;
    expect(echoed).toMatch(UUID);
    expect(upstreamIds()).toEqual([echoed]);
  });

  it('puts the id in error bodies', async () => {
    const res = await request(f.proxy.url).get('/a%2Fb').set('X-Request-ID', 'err-1');
    expect(res.status).toBe(400);
    expect(res.body.request_id).toBe('err-1');
    expect(res.headers['x-request-id']).toBe('err-1');
  });
});
