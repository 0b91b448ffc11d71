import {
  CONNECT_TIMEOUT,
  RESPONSE_TIMEOUT,
  upstreamError,
  upstreamFailureKind,
} from '../../../src/proxy/upstream-error';

describe('upstreamFailureKind / upstreamError', () => {
  const table: Array<[string | undefined, string, number, string]> = [
    ['ECONNREFUSED', 'connect_refused', 502, 'UPSTREAM_UNAVAILABLE'],
    [CONNECT_TIMEOUT, 'connect_timeout', 504, 'UPSTREAM_TIMEOUT'],
    ['ETIMEDOUT', 'connect_timeout', 504, 'UPSTREAM_TIMEOUT'],
    [RESPONSE_TIMEOUT, 'response_timeout', 504, 'UPSTREAM_TIMEOUT'],
    ['ENOTFOUND', 'dns', 502, 'UPSTREAM_UNAVAILABLE'],
    ['EAI_AGAIN', 'dns', 502, 'UPSTREAM_UNAVAILABLE'],
    ['EHOSTUNREACH', 'unreachable', 502, 'UPSTREAM_UNAVAILABLE'],
    ['ECONNRESET', 'reset', 502, 'UPSTREAM_UNAVAILABLE'],
    ['EPIPE', 'reset', 502, 'UPSTREAM_UNAVAILABLE'],
    ['HPE_INVALID_CONSTANT', 'protocol', 502, 'UPSTREAM_UNAVAILABLE'],
    ['HPE_SOMETHING_NEW', 'protocol', 502, 'UPSTREAM_UNAVAILABLE'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls', 502, 'UPSTREAM_UNAVAILABLE'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls', 502, 'UPSTREAM_UNAVAILABLE'],
    ['EWHATEVER', 'other', 502, 'UPSTREAM_UNAVAILABLE'],
    [undefined, 'other', 502, 'UPSTREAM_UNAVAILABLE'],
  ];
  it.each(table)('%s → %s (%i %s)', (code, kind, status, errorCode) => {
    expect(upstreamFailureKind(code)).toBe(kind);
    const err = upstreamError(
      Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5000'), { code }),
    );
    expect(err.status).toBe(status);
    expect(err.code).toBe(errorCode);
    expect(err.reason).toBe(kind);
    expect(err.message).not.toMatch(/\d+\.\d+\.\d+\.\d+/);
  });
});
