// Writes docs/configuration.md from the compiled schema (run after `npm run build`).
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { configReference } = require('../dist/config/reference');

writeFileSync(join(__dirname, '..', 'docs', 'configuration.md'), configReference());
console.log('docs/configuration.md written');
