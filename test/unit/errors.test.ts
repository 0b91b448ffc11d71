import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AuthgateError,
  ERROR_CATALOG,
  STATUS_TITLES,
  errorBody,
  type ErrorCode,
} from '../../src/errors';

const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
const codes = Object.keys(ERROR_CATALOG) as ErrorCode[];

describe('error catalogue', () => {
  it.each(codes)('%s is documented in the README with its status', (code) => {
    const status = ERROR_CATALOG[code].status;
    expect(readme).toMatch(new RegExp(`\\|\\s*${status}\\s*\\|\\s*\`${code}\`\\s*\\|`));
  });

  it.each(codes)('%s has a category title', (code) => {
    expect(STATUS_TITLES[ERROR_CATALOG[code].status]).toEqual(expect.any(String));
  });

  it('builds the docs/design.md#typed-errors body', () => {
    const err = new AuthgateError('TOKEN_EXPIRED');
    expect(errorBody(err, 'rid')).toEqual({
      error: 'Authentication failed',
      error_code: 'TOKEN_EXPIRED',
      message: 'The bearer token has expired.',
      status: 401,
      origin: 'proxy',
      request_id: 'rid',
    });
  });
});

describe('docs/troubleshooting.md', () => {
  const troubleshooting = readFileSync(join(__dirname, '../../docs/troubleshooting.md'), 'utf8');
  it.each(Object.entries(ERROR_CATALOG))(
    '%s has a row: meaning, log line, fix',
    (code, { status }) => {
      const row = troubleshooting
        .split('\n')
        .find((l) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`).test(l));
      expect(row).toBeDefined();
      const cells = row!.split('|').map((c) => c.trim());
      expect(cells[2]).toBe(String(status));
      expect(cells.slice(3, 6).every((c) => c.length > 3)).toBe(true);
    },
  );
});
