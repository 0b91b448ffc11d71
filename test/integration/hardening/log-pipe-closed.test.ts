/**
 * Regression: a log pipe whose reader goes away killed the process. Every line is written with a
 * synchronous write(2) (whole lines that never tear); once nobody reads the pipe that write fails
 * with EPIPE, and the error went up uncaught. Now the lines for that pipe are dropped (one note
 * on stderr) and authgate keeps serving.
 */
import request from 'supertest';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';
import { freePort, route, startUpstream, type TestUpstream } from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

jest.setTimeout(60_000);

describe('the log pipe closed by its reader', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await spawnProxy({
      server: { port: await freePort(), host: '127.0.0.1' },
      logging: { level: 'info' },
      routes: [route(upstream.url)],
    });
  });
  afterAll(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await upstream?.close();
  });

  it('a closed stdout does not kill authgate: requests are still served, one note on stderr', async () => {
    expect((await request(proxy.url).get('/before')).status).toBe(200);
    proxy.child.stdout!.destroy(); // the reader goes: the next log write meets EPIPE
    for (let i = 0; i < 20; i++)
      expect((await request(proxy.url).get(`/after/${i}`)).status).toBe(200);
    await waitFor('the EPIPE note on stderr', () => proxy.stderr.join('').includes('EPIPE'));
    expect(proxy.stderr.join('').match(/log lines are dropped/g)).toHaveLength(1);
    expect(proxy.child.exitCode).toBeNull();
    expect((await request(proxy.url).get('/healthz')).status).toBe(200);
  });
});
