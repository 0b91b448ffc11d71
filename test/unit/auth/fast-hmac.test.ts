import { createHmac } from 'node:crypto';
import { hmacSha256 } from '../../../src/auth/fast-hmac';

describe('hmacSha256 equals createHmac("sha256")', () => {
  const table: Array<[string, string]> = [
    ['short key', 'hok_live_abc'],
    ['', 'empty key'],
    ['k'.repeat(64), 'block-sized key'],
    ['k'.repeat(65), 'key longer than a block is hashed first'],
    ['ключ', 'unicode key and message ✓'],
    ['secret', ''],
    ['secret', 'm'.repeat(1024)],
    ['secret', 'a message longer than the scratch buffer '.repeat(40)],
    ['secret', 'é'.repeat(600)],
  ];
  it.each(table)('key %j, message %j', (key, message) => {
    expect(hmacSha256(key)(message)).toBe(
      createHmac('sha256', key).update(message).digest('base64url'),
    );
  });
});
