// The unit tier alone, as one jest config (for tools that take one, such as StrykerJS).
const { projects } = require('../jest.config.js');

const unit = projects.find((p) => p.displayName === 'unit');
module.exports = {
  ...unit,
  rootDir: require('node:path').join(__dirname, '..'),
  displayName: undefined,
};
