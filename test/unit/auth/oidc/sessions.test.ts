import { createSealer } from '../../../../src/auth/oidc/seal';
import {
  MemorySessionStore,
  newSessionId,
  sessionExpiry,
  sessionHash,
  type SessionRecord,
} from '../../../../src/auth/oidc/session-store';
import { identityFromClaims, loginCookieName } from '../../../../src/auth/oidc/sign-in';
import { ManualClock } from '../../../helpers/manual-clock';

describe('sealing', () => {
  const sealer = createSealer('client-secret', 'session');

  test('opens what it sealed, in its context only', () => {
    const sealed = sealer.seal({ accessToken: 'at-123' }, 'ctx');
    expect(sealed).not.toContain('at-123');
    expect(sealer.open(sealed, 'ctx')).toEqual({ accessToken: 'at-123' });
    expect(sealer.open(sealed, 'other')).toBeUndefined();
  });

  test('refuses a tampered value, another key or purpose, and garbage', () => {
    const sealed = sealer.seal({ a: 1 }, 'ctx');
    const raw = Buffer.from(sealed, 'base64url');
    raw[raw.length - 1]! ^= 1;
    expect(sealer.open(raw.toString('base64url'), 'ctx')).toBeUndefined();
    expect(createSealer('another-secret', 'session').open(sealed, 'ctx')).toBeUndefined();
    expect(createSealer('client-secret', 'sign-in').open(sealed, 'ctx')).toBeUndefined();
    expect(sealer.open('', 'ctx')).toBeUndefined();
    expect(sealer.open('%%%', 'ctx')).toBeUndefined();
  });

  test('two seals of one value differ (a fresh nonce each)', () => {
    expect(sealer.seal({ a: 1 }, 'c')).not.toBe(sealer.seal({ a: 1 }, 'c'));
  });
});

describe('identityFromClaims', () => {
  const config = {
    claims: { userId: 'sub', tenants: 'tenant_ids', scopes: 'realm_access.roles' },
    groupScopes: {
      claim: 'groups',
      map: { editors: ['mlflow:read', 'mlflow:edit'], admins: ['mlflow:manage'] },
    },
  };

  test.each<[string, Record<string, unknown>, unknown]>([
    [
      'scopes from a nested claim and groups',
      { sub: 'alice', tenant_ids: ['acme'], realm_access: { roles: ['r1'] }, groups: ['editors'] },
      { userId: 'alice', tenantIds: ['acme'], scopes: ['r1', 'mlflow:read', 'mlflow:edit'] },
    ],
    [
      'a space-separated string',
      { sub: 'bob', tenant_ids: 'acme beta', realm_access: { roles: 'a b' } },
      { userId: 'bob', tenantIds: ['acme', 'beta'], scopes: ['a', 'b'] },
    ],
    [
      'unknown groups add nothing',
      { sub: 'c', groups: ['nobody', '__proto__', 'constructor'] },
      { userId: 'c', tenantIds: [], scopes: [] },
    ],
    [
      'scopes are not repeated',
      { sub: 'd', groups: ['editors', 'editors'], realm_access: { roles: ['mlflow:read'] } },
      { userId: 'd', tenantIds: [], scopes: ['mlflow:read', 'mlflow:edit'] },
    ],
    ['no user id', { tenant_ids: ['acme'] }, undefined],
    ['an empty user id', { sub: '' }, undefined],
    ['a user id that is not a string', { sub: 42 }, undefined],
  ])('%s', (_what, claims, expected) => {
    expect(identityFromClaims(claims, config)).toEqual(expected);
  });
});

test('each state has its own pre-sign-in cookie name', () => {
  expect(loginCookieName('authgate_session', 'state-a')).toMatch(
    /^authgate_session_login_[0-9a-f]{12}$/,
  );
  expect(loginCookieName('authgate_session', 'state-a')).not.toBe(
    loginCookieName('authgate_session', 'state-b'),
  );
});

describe('the in-process session store', () => {
  const timeouts = { idleTimeoutSec: 600, absoluteTimeoutSec: 3600 };
  function record(now: number, userId = 'alice'): SessionRecord {
    return {
      userId,
      tenantIds: [],
      scopes: [],
      accessToken: 'at',
      createdAt: now,
      lastSeenAt: now,
      absoluteExpiresAt: now + timeouts.absoluteTimeoutSec * 1000,
    };
  }

  test('ids are 256 random bits; the store keys on their hash', () => {
    const id = newSessionId();
    expect(id).toMatch(/^[\w-]{43}$/);
    expect(newSessionId()).not.toBe(id);
    expect(sessionHash(id)).not.toContain(id);
  });

  test('a session ends after the idle timeout, and at the absolute timeout however used', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemorySessionStore(timeouts, clock);
    const id = newSessionId();
    await store.put(id, record(clock.now()));
    await clock.advance(599_000);
    expect(await store.get(id)).toBeDefined();
    await clock.advance(2_000);
    expect(await store.get(id)).toBeUndefined();

    const busy = newSessionId();
    const r = record(clock.now());
    await store.put(busy, r);
    for (let t = 0; t < 3600; t += 300) {
      await clock.advance(300_000);
      const seen = await store.get(busy);
      if (seen) await store.put(busy, { ...seen, lastSeenAt: clock.now() });
    }
    expect(await store.get(busy)).toBeUndefined();
    expect(sessionExpiry(r, timeouts)).toBe(r.lastSeenAt + 600_000);
  });

  test('list, revoke and count by user', async () => {
    const clock = new ManualClock(5_000_000);
    const store = new MemorySessionStore(timeouts, clock);
    const ids = [newSessionId(), newSessionId(), newSessionId()];
    await store.put(ids[0]!, record(clock.now(), 'alice'));
    await store.put(ids[1]!, record(clock.now(), 'alice'));
    await store.put(ids[2]!, record(clock.now(), 'bob'));
    const listed = await store.list('alice');
    expect(listed.map((s) => s.userId)).toEqual(['alice', 'alice']);
    expect(JSON.stringify(listed)).not.toContain(ids[0]);
    expect(await store.active()).toBe(3);
    expect(await store.revokeUser('alice')).toBe(2);
    expect(await store.get(ids[0]!)).toBeUndefined();
    expect(await store.get(ids[2]!)).toBeDefined();
    expect(await store.active()).toBe(1);
  });

  test('one holder of a session lock at a time; the others wait and get nothing', async () => {
    const store = new MemorySessionStore(timeouts, new ManualClock());
    let release!: () => void;
    const first = store.exclusive(
      'id',
      () => new Promise<string>((r) => (release = () => r('mine'))),
    );
    const second = store.exclusive('id', async () => 'second ran');
    release();
    expect(await first).toBe('mine');
    expect(await second).toBeUndefined();
    expect(await store.exclusive('id', async () => 'free again')).toBe('free again');
  });
});
