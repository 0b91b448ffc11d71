/** What a refused token's audit line says — from any string, never the token. */
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { explainRefusedToken } from '../../../src/auth/jwt-token';

describe('explainRefusedToken', () => {
  it('reads issuer, kid, alg, aud and how long ago exp passed', () => {
    const token = jwt.sign({ iss: 'https://idp', aud: ['a', 'b'], exp: 1000 }, 's'.repeat(32), {
      keyid: 'k1',
    });
    expect(explainRefusedToken(token, 1300)).toMatchObject({
      issuer: 'https://idp',
      kid: 'k1',
      alg: 'HS256',
      aud: ['a', 'b'],
      expired_sec_ago: 300,
    });
    expect(explainRefusedToken(token, 900).expired_sec_ago).toBeUndefined();
  });

  it('property: never throws, and never contains the token', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 20, maxLength: 200 }), (token) => {
        const out = JSON.stringify(explainRefusedToken(token, 0));
        return !out.includes(token);
      }),
    );
  });
});
