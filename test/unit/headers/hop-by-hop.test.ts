/**
 * Hop-by-hop headers: the fixed list and every name listed in Connection are removed, except
 * the protected names a client must never strip; end-to-end headers keep case, order and repeats.
 */
import fc from 'fast-check';
import {
  CONNECTION_PROTECTED_HEADERS,
  HOP_BY_HOP_HEADERS,
  connectionListedNames,
  headerValues,
  stripHopByHop,
  type StripOptions,
} from '../../../src/headers/hop-by-hop';

describe('stripHopByHop', () => {
  it.each<[string, string[], StripOptions, string[]]>([
    [
      'end-to-end headers pass in order, case and repeats',
      ['X-A', '1', 'x-b', '2', 'X-A', '3'],
      {},
      ['X-A', '1', 'x-b', '2', 'X-A', '3'],
    ],
    ...[
      'Connection',
      'Keep-Alive',
      'Proxy-Connection',
      'Proxy-Authorization',
      'TE',
      'Trailer',
      'Transfer-Encoding',
      'Upgrade',
    ].map((h): [string, string[], StripOptions, string[]] => [
      `${h} is hop-by-hop`,
      [h, 'x', 'X-Keep', '1'],
      {},
      ['X-Keep', '1'],
    ]),
    [
      'a name listed in Connection is removed',
      ['Connection', 'X-Foo', 'X-Foo', '1', 'X-Bar', '2'],
      {},
      ['X-Bar', '2'],
    ],
    [
      'listed names match in any case, with spaces',
      ['Connection', ' x-foo ,  X-BAZ', 'X-Foo', '1', 'x-baz', '2', 'X-Bar', '3'],
      {},
      ['X-Bar', '3'],
    ],
    [
      'every Connection header counts',
      ['Connection', 'close', 'Connection', 'X-Foo', 'X-Foo', '1'],
      {},
      [],
    ],
    ['empty list members are ignored', ['Connection', ',,', 'X-Foo', '1'], {}, ['X-Foo', '1']],
    ...['Authorization', 'X-User-ID', 'X-Request-ID', 'X-Tenant-ID', 'Host', 'Content-Length'].map(
      (h): [string, string[], StripOptions, string[]] => [
        `Connection cannot remove ${h}`,
        ['Connection', h, h, 'v'],
        {},
        [h, 'v'],
      ],
    ),
    [
      'a given protect set replaces the default',
      ['Connection', 'Authorization, X-Keep', 'Authorization', 'a', 'X-Keep', 'k'],
      { protect: new Set(['x-keep']) },
      ['X-Keep', 'k'],
    ],
    [
      'drop removes names the proxy sets itself',
      ['X-Forwarded-For', '1.2.3.4', 'X-Keep', '1'],
      { drop: new Set(['x-forwarded-for']) },
      ['X-Keep', '1'],
    ],
    [
      'keepUpgrade keeps Upgrade and rewrites Connection to upgrade',
      ['Connection', 'Upgrade, X-Foo', 'Upgrade', 'websocket', 'X-Foo', '1', 'X-Bar', '2'],
      { keepUpgrade: true },
      ['Connection', 'upgrade', 'Upgrade', 'websocket', 'X-Bar', '2'],
    ],
    [
      'without keepUpgrade, Upgrade goes',
      ['Connection', 'Upgrade', 'Upgrade', 'websocket'],
      {},
      [],
    ],
    [
      'keepUpgrade still drops the other hop-by-hop headers',
      ['Keep-Alive', '5', 'TE', 'trailers', 'Upgrade', 'h2c'],
      { keepUpgrade: true },
      ['Upgrade', 'h2c'],
    ],
  ])('%s', (_name, raw, options, expected) => {
    expect(stripHopByHop(raw, options)).toEqual(expected);
  });

  it('never lets Connection remove a protected header (property)', () => {
    const names = fc.constantFrom(
      'Authorization',
      'X-User-ID',
      'x-request-id',
      'X-Tenant-ID',
      'Host',
      'Content-Length',
      'X-Other',
    );
    fc.assert(
      fc.property(
        fc.array(names, { minLength: 1, maxLength: 5 }),
        fc.array(names, { maxLength: 6 }),
        (listed, present) => {
          const raw = ['Connection', listed.join(', '), ...present.flatMap((n) => [n, 'v'])];
          const out = stripHopByHop(raw);
          const kept = present.filter(
            (n) =>
              CONNECTION_PROTECTED_HEADERS.has(n.toLowerCase()) ||
              !listed.some((l) => l.toLowerCase() === n.toLowerCase()),
          );
          expect(out).toEqual(kept.flatMap((n) => [n, 'v']));
        },
      ),
    );
  });
});

describe('stripHopByHop, the one-pass rule', () => {
  /** The rule as stated: the names every `Connection` header lists, then one filter. */
  function reference(raw: string[], options: StripOptions): string[] {
    const listed = connectionListedNames(raw, options.protect);
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (options.keepUpgrade && (lower === 'upgrade' || lower === 'connection')) {
        out.push(name, lower === 'connection' ? 'upgrade' : raw[i + 1]!);
        continue;
      }
      if (HOP_BY_HOP_HEADERS.has(lower) || listed.has(lower) || options.drop?.has(lower)) continue;
      out.push(name, raw[i + 1]!);
    }
    return out;
  }

  it('removes exactly what the rule removes, whatever the list and options (property)', () => {
    const name = fc.constantFrom(
      'Connection',
      'connection',
      'Upgrade',
      'Keep-Alive',
      'TE',
      'X-Foo',
      'x-foo',
      'X-Bar',
      'Authorization',
      'Host',
      'X-Forwarded-For',
    );
    const token = fc.constantFrom(
      'close',
      'keep-alive',
      'Upgrade',
      'X-FOO',
      'x-bar',
      'host',
      '',
      ' ',
    );
    const header = fc.oneof(
      fc.tuple(name, fc.constantFrom('v', 'websocket', '1')),
      fc.tuple(
        fc.constantFrom('Connection', 'CONNECTION'),
        fc.array(token, { maxLength: 4 }).map((t) => t.join(',')),
      ),
    );
    const options = fc.record(
      {
        keepUpgrade: fc.boolean(),
        drop: fc.constant(new Set(['x-forwarded-for'])),
        protect: fc.constant(new Set(['x-bar'])),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(header, { maxLength: 8 }), options, (headers, opts) => {
        const raw = headers.flat();
        expect(stripHopByHop(raw, opts)).toEqual(reference(raw, opts));
      }),
      { numRuns: 500 },
    );
  });
});

describe('connectionListedNames', () => {
  it.each<[string[], string[]]>([
    [[], []],
    [['Connection', 'close'], ['close']],
    [
      ['connection', 'Keep-Alive, X-A'],
      ['keep-alive', 'x-a'],
    ],
    [['Connection', 'authorization, x-user-id, X-B'], ['x-b']],
    [['X-Connection', 'X-A'], []],
  ])('%j → %j', (raw, expected) => {
    expect([...connectionListedNames(raw)]).toEqual(expected);
  });
});

describe('headerValues', () => {
  it.each<[string[], string, string[]]>([
    [[], 'x-a', []],
    [['X-A', '1', 'x-b', '2', 'x-a', '3'], 'x-a', ['1', '3']],
    [['X-A', '1'], 'x-b', []],
    [['X-AB', '1'], 'x-a', []],
  ])('%j %s → %j', (raw, name, expected) => {
    expect(headerValues(raw, name)).toEqual(expected);
  });
});
