/**
 * ioredis and the OpenTelemetry SDK and exporter (some 3 MB resident each) are loaded only when
 * a config asks for Redis or tracing (docs/design.md#memory). Checked in a fresh Node process
 * on the built package: what its module cache holds after `createAuthgate`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

function loadedWith(config: Record<string, unknown>): string[] {
  const script = `
    const { createAuthgate, parseConfig } = require('./dist/index.js');
    (async () => {
      const gate = await createAuthgate(parseConfig(${JSON.stringify(config)}));
      const loaded = new Set();
      for (const file of Object.keys(require.cache)) {
        const m = /node_modules\\/(ioredis|@opentelemetry\\/(?:sdk-trace|exporter-trace-otlp-proto))\\//.exec(file);
        if (m) loaded.add(m[1]);
      }
      await gate.close();
      process.stdout.write(JSON.stringify([...loaded].sort()));
      process.exit(0);
    })();
  `;
  const run = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, LOG_LEVEL: 'error' },
    timeout: 30_000,
  });
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as string[];
}

const routes = [{ name: 'api', prefix: '/', upstream: 'http://127.0.0.1:9', auth: 'none' }];

describe('modules load only when configured', () => {
  it('no Redis and no tracing: neither ioredis nor the OpenTelemetry SDK is loaded', () => {
    expect(loadedWith({ routes })).toEqual([]);
  });

  it('Redis and tracing configured: both are loaded', () => {
    expect(
      loadedWith({
        routes,
        redis: { url: 'redis://127.0.0.1:6379' },
        tracing: { otlpEndpoint: 'http://127.0.0.1:9/v1/traces' },
      }),
    ).toEqual(['@opentelemetry/exporter-trace-otlp-proto', '@opentelemetry/sdk-trace', 'ioredis']);
  });
});
