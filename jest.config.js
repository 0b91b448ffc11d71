/**
 * Three tiers, as jest projects (`npm test` runs all of them; `npm run test:unit`,
 * `test:integration`, `test:e2e` one each):
 * - unit: pure functions and single stages; no network, no child processes; seconds.
 * - integration: real servers on loopback — upstreams, Redis, JWKS, the auth service, HAProxy,
 *   Prometheus — and the compiled CLI (built once by the tier's global setup).
 * - e2e: the real peers — the pinned MLflow server, client and UI (Chromium), the container
 *   registry with skopeo; only this tier installs MLflow.
 */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  // openid-client and what it builds on are ES modules only: compiled to CommonJS for jest
  // (Node itself loads them with require(esm)).
  '/node_modules/(openid-client|oauth4webapi|jose)/.+\\.js$': [
    'ts-jest',
    { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2023', isolatedModules: true } },
  ],
};
const transformIgnorePatterns = ['/node_modules/(?!(openid-client|oauth4webapi|jose)/)'];
const tier = (name, extra = {}) => ({
  displayName: name,
  testEnvironment: 'node',
  rootDir: __dirname,
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform,
  transformIgnorePatterns,
  ...extra,
});

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  projects: [
    tier('unit'),
    tier('integration', { globalSetup: '<rootDir>/test/global-setup.ts' }),
    tier('e2e', {
      globalSetup: '<rootDir>/test/global-setup-e2e.ts',
      globalTeardown: '<rootDir>/test/global-teardown-e2e.ts',
    }),
  ],
};
