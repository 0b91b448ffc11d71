// Mutation testing of the rules that decide a request, against the unit tier alone:
// `npm run test:mutation`; the summary is docs/mutation-report.md, the full report reports/mutation/.
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
  timeoutMS: 10000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  ignorePatterns: ['.tools', 'dist', 'reports', 'test/integration', 'test/e2e', 'bench'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
