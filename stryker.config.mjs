// Mutation testing of the rules that decide a request, against the unit tier alone:
// `npm run test:mutation`, then `node scripts/mutation-report.js` writes docs/mutation-report.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    configFile: 'test/jest.unit.config.js',
    enableFindRelatedTests: false,
  },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/stages/**/*.ts',
    'src/headers/**/*.ts',
    'src/auth/authorize.ts',
    'src/logging/mask.ts',
  ],
  concurrency: 2,
  timeoutMS: 20000,
  timeoutFactor: 3,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  ignorePatterns: ['.tools', 'dist', 'reports', 'test/integration', 'test/e2e', 'bench'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
