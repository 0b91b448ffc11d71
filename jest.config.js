/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/global-setup.ts',
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
