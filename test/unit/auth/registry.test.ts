import {
  AUTHENTICATOR_MODULES,
  authenticatorHeaders,
  trustedOnlyPrefixes,
} from '../../../src/auth/registry';
import { createAuthLayer } from '../../../src/auth';
import { parseConfig } from '../../../src/config/load';
import { NOOP_LOGGER } from '../../../src/logging/logger';

const jwt = { issuers: [{ issuer: 'i', algorithms: ['HS256'], secret: 'x'.repeat(32) }] };
const apiKeys = { prefixes: ['hok_'], validateUrl: 'http://127.0.0.1:9/v', header: 'X-Svc-Key' };
const albOidc = { keysUrl: 'http://127.0.0.1:9', signers: ['arn:aws:elasticloadbalancing:x'] };
const configOf = (auth: Record<string, unknown>) =>
  parseConfig({ auth, routes: [{ name: 'a', prefix: '/', upstream: 'http://u', auth: 'none' }] });

describe('authenticator registration: one list decides who is built, in order, and what is guarded', () => {
  it.each<[string, Record<string, unknown>, string[], string[]]>([
    ['nothing configured', {}, [], []],
    ['JWT', { jwt }, ['jwt'], ['authorization']],
    ['API keys under their own header', { apiKeys }, ['api_key'], ['x-svc-key', 'authorization']],
    [
      'all three, the ALB first',
      { jwt, apiKeys, albOidc },
      ['alb_oidc', 'jwt', 'api_key'],
      [
        'x-amzn-oidc-data',
        'x-amzn-oidc-identity',
        'x-amzn-oidc-accesstoken',
        'authorization',
        'x-svc-key',
      ],
    ],
  ])('%s', async (_name, auth, methods, headers) => {
    const config = configOf(auth);
    const layer = createAuthLayer(config, { logger: NOOP_LOGGER });
    try {
      expect(layer.authenticators.map((a) => a.method)).toEqual(methods);
      expect(new Set(authenticatorHeaders(config))).toEqual(new Set(headers));
    } finally {
      await layer.close();
    }
  });

  it('every module names its method once; load-balancer headers are trusted-proxy only', () => {
    const methods = AUTHENTICATOR_MODULES.map((m) => m.method);
    expect(new Set(methods).size).toBe(methods.length);
    expect(trustedOnlyPrefixes()).toContain('x-amzn-oidc-');
  });
});
