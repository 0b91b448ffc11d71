// The unit tier alone, as one jest config (for tools that take one, such as StrykerJS).
const { projects } = require('../jest.config.js');

const unit = projects.find((p) => p.displayName === 'unit');
// Tests that read the source text (docs checks) are left out: under StrykerJS the sources are
// instrumented copies.
module.exports = {
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/unit/docs/'],
  ...unit,
  rootDir: require('node:path').join(__dirname, '..'),
  displayName: undefined,
};
