import fc from 'fast-check';
import {
  NetworkList,
  appendForwardedHeaders,
  clientIp,
  normalizeIp,
} from '../../../src/headers/forwarded';
import { traceRoot } from '../../../src/headers/request-id';

describe('clientIp: the right-most address that is not a trusted proxy', () => {
  const trusted = new NetworkList(['10.0.0.0/8', '192.0.2.7']);
  it.each<[string, string[], string, string]>([
    [
      'untrusted peer: its own address, whatever it claims',
      ['X-Forwarded-For', '1.1.1.1'],
      '203.0.113.9',
      '203.0.113.9',
    ],
    ['trusted peer, one client', ['X-Forwarded-For', '198.51.100.1'], '10.1.2.3', '198.51.100.1'],
    [
      'trusted chain: skips trusted hops from the right',
      ['X-Forwarded-For', '198.51.100.1, 10.0.0.5, 192.0.2.7'],
      '10.1.2.3',
      '198.51.100.1',
    ],
    [
      'spoofed left entries are ignored',
      ['X-Forwarded-For', '6.6.6.6, 198.51.100.2'],
      '10.1.2.3',
      '198.51.100.2',
    ],
    [
      'repeated headers are one chain',
      ['X-Forwarded-For', '6.6.6.6', 'x-forwarded-for', '198.51.100.3, 10.9.9.9'],
      '10.1.2.3',
      '198.51.100.3',
    ],
    [
      'bare IP in trustedProxies is trusted',
      ['X-Forwarded-For', '198.51.100.4'],
      '192.0.2.7',
      '198.51.100.4',
    ],
    [
      'a neighbour of a bare IP is not',
      ['X-Forwarded-For', '198.51.100.5'],
      '192.0.2.8',
      '192.0.2.8',
    ],
    [
      'IPv4-mapped entries are normalised',
      ['X-Forwarded-For', '::ffff:198.51.100.6'],
      '10.1.2.3',
      '198.51.100.6',
    ],
    [
      'all hops trusted: the left-most',
      ['X-Forwarded-For', '10.0.0.1, 10.0.0.2'],
      '10.1.2.3',
      '10.0.0.1',
    ],
    ['trusted peer without a chain: the peer', [], '10.1.2.3', '10.1.2.3'],
  ])('%s', (_n, raw, peer, expected) => {
    expect(clientIp(raw, peer, trusted)).toBe(expected);
  });

  it('property: never an address the untrusted peer or a spoofer put left of it', () => {
    fc.assert(
      fc.property(fc.array(fc.ipV4(), { maxLength: 5 }), fc.ipV4(), (spoofed, real) => {
        fc.pre(!trusted.has(real));
        const raw = ['X-Forwarded-For', [...spoofed, real, '10.0.0.9'].join(', ')];
        expect(clientIp(raw, '10.1.1.1', trusted)).toBe(real);
      }),
    );
  });
});

describe('appendForwardedHeaders', () => {
  it('extends For/Proto/Host/Port from a trusted peer', () => {
    const out: string[] = [];
    appendForwardedHeaders(
      out,
      ['X-Forwarded-For', '198.51.100.1', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Port', '443'],
      {
        peerIp: '10.0.0.1',
        trusted: true,
        proto: 'http',
        localPort: 8080,
        host: 'h',
      },
    );
    expect(out).toEqual([
      'X-Forwarded-For',
      '198.51.100.1, 10.0.0.1',
      'X-Forwarded-Proto',
      'https',
      'X-Forwarded-Host',
      'h',
      'X-Forwarded-Port',
      '443',
    ]);
  });
  it('replaces them for an untrusted peer', () => {
    const out: string[] = [];
    appendForwardedHeaders(out, ['X-Forwarded-For', '6.6.6.6', 'X-Forwarded-Port', '1'], {
      peerIp: '203.0.113.9',
      trusted: false,
      proto: 'http',
      localPort: 8080,
      host: 'h',
    });
    expect(out).toEqual([
      'X-Forwarded-For',
      '203.0.113.9',
      'X-Forwarded-Proto',
      'http',
      'X-Forwarded-Host',
      'h',
      'X-Forwarded-Port',
      '8080',
    ]);
  });
});

describe('traceRoot', () => {
  it.each<[string[], string | undefined]>([
    [
      ['X-Amzn-Trace-Id', 'Root=1-67891233-abcdef012345678912345678'],
      '1-67891233-abcdef012345678912345678',
    ],
    [
      ['x-amzn-trace-id', 'Self=1-a-b;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1'],
      '1-5759e988-bd862e3fe1be46a994272793',
    ],
    [['X-Amzn-Trace-Id', 'Root=bad value'], undefined],
    [['X-Amzn-Trace-Id', 'Parent=1'], undefined],
    [['X-Amzn-Trace-Id', 'Root=1-a', 'X-Amzn-Trace-Id', 'Root=1-b'], undefined],
    [[], undefined],
  ])('%j → %s', (raw, expected) => {
    expect(traceRoot(raw)).toBe(expected);
  });
});

describe('normalizeIp and NetworkList, written out', () => {
  it.each<[string | undefined, string]>([
    [undefined, ''],
    ['', ''],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::ffff:not-an-ip', '::ffff:not-an-ip'],
    ['::ffff:abcd', '::ffff:abcd'],
    ['10.0.0.1', '10.0.0.1'],
    ['2001:db8::1', '2001:db8::1'],
  ])('normalizeIp(%j) → %j', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  const list = new NetworkList(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1']);
  it.each<[string, boolean]>([
    ['10.255.0.1', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['2001:db8:ffff::1', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['', false],
  ])('has(%j) → %s', (address, expected) => {
    expect(list.has(address)).toBe(expected);
  });
  it('an empty list holds nothing', () => {
    const empty = new NetworkList([]);
    expect(empty.empty).toBe(true);
    expect(empty.has('10.0.0.1')).toBe(false);
    expect(list.empty).toBe(false);
  });
});

describe('appendForwardedHeaders, exactly', () => {
  const ctx = { peerIp: '10.0.0.2', proto: 'http' as const, localPort: 8080, host: 'gw.example' };
  it.each<[string, string[], boolean, string | undefined, string[]]>([
    [
      'trusted, nothing forwarded yet',
      [],
      true,
      'gw.example',
      [
        'X-Forwarded-For',
        '10.0.0.2',
        'X-Forwarded-Proto',
        'http',
        'X-Forwarded-Host',
        'gw.example',
        'X-Forwarded-Port',
        '8080',
      ],
    ],
    [
      'trusted, the chain extended and the rest kept',
      [
        'X-Forwarded-For',
        '1.1.1.1, 2.2.2.2',
        'x-forwarded-for',
        '3.3.3.3',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'app.example',
        'X-Forwarded-Port',
        '443',
      ],
      true,
      'gw.example',
      [
        'X-Forwarded-For',
        '1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.2',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'app.example',
        'X-Forwarded-Port',
        '443',
      ],
    ],
    [
      'trusted, no Host anywhere',
      [],
      true,
      undefined,
      ['X-Forwarded-For', '10.0.0.2', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Port', '8080'],
    ],
    [
      'untrusted, everything replaced',
      [
        'X-Forwarded-For',
        '1.1.1.1',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'evil',
        'X-Forwarded-Port',
        '1',
      ],
      false,
      'gw.example',
      [
        'X-Forwarded-For',
        '10.0.0.2',
        'X-Forwarded-Proto',
        'http',
        'X-Forwarded-Host',
        'gw.example',
        'X-Forwarded-Port',
        '8080',
      ],
    ],
    [
      'untrusted, no Host',
      [],
      false,
      undefined,
      ['X-Forwarded-For', '10.0.0.2', 'X-Forwarded-Proto', 'http', 'X-Forwarded-Port', '8080'],
    ],
  ])('%s', (_name, original, trusted, host, expected) => {
    const out: string[] = [];
    appendForwardedHeaders(out, original, { ...ctx, trusted, host });
    expect(out).toEqual(expected);
  });
});
